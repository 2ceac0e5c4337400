"""Cover checks against the podcast directory rules, the drawn default cover, and loading show and episode art."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from narrate.cover import cover_problem, default_cover, episode_artwork, load_artwork, safe_stem
from narrate.errors import UserError
from narrate.model import Show, VoiceSpec

TRICKY_TITLE = "Čeští & <Hosté> \"quoted\" 🎙️"


def make_image(path: Path, size: tuple[int, int] = (1400, 1400), mode: str = "RGB", fmt: str = "PNG") -> Path:
    """Write a plain image with Pillow and return its path."""
    colour = {"RGB": (40, 80, 120), "RGBA": (40, 80, 120, 200), "L": 90, "CMYK": (10, 20, 30, 40), "P": 3}[mode]
    Image.new(mode, size, colour).save(path, format=fmt)
    return path


def make_show(root: Path, cover: Path | None = None) -> Show:
    """A Show with only the required fields (and an optional cover)."""
    voice = VoiceSpec(engine="espeak", voice="en")
    return Show(
        root=root, path="show.yaml", title="The Prague Spring", author="Jana Nováková", description="Documents.",
        language="en", category="History", explicit=False, base_url="https://example.com/pod/",
        voices=(("narrator", voice), ("document", voice), ("note", voice)), cover=cover,
    )


@pytest.mark.parametrize(("name", "fmt", "side"), [
    ("cover.jpg", "JPEG", 1400), ("cover.jpeg", "JPEG", 3000), ("cover.png", "PNG", 1400), ("COVER.PNG", "PNG", 2048),
])
def test_valid_covers_pass(tmp_path: Path, name: str, fmt: str, side: int) -> None:
    assert cover_problem(make_image(tmp_path / name, (side, side), fmt=fmt)) is None


def test_missing_cover(tmp_path: Path) -> None:
    assert cover_problem(tmp_path / "nope.png") == "file does not exist"


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "cover.png"
    path.write_text("not really a picture\n")
    problem = cover_problem(path)
    assert problem is not None and problem.startswith("not an image")


def test_truncated_png(tmp_path: Path) -> None:
    path = make_image(tmp_path / "cover.png")
    path.write_bytes(path.read_bytes()[:200])
    problem = cover_problem(path)
    assert problem is not None and ("not a" in problem or "damaged" in problem)


@pytest.mark.parametrize(("size", "reason"), [
    ((1000, 1000), "cover must be 1400 to 3000 px on a side (this one is 1000x1000 px)"),
    ((3200, 3200), "cover must be 1400 to 3000 px on a side (this one is 3200x3200 px)"),
    ((1600, 1400), "cover must be square (this one is 1600x1400 px)"),
])
def test_wrong_size(tmp_path: Path, size: tuple[int, int], reason: str) -> None:
    assert cover_problem(make_image(tmp_path / "cover.png", size)) == reason


@pytest.mark.parametrize(("name", "mode", "fmt"), [
    ("cover.png", "RGBA", "PNG"),
    ("cover.png", "P", "PNG"),
    ("cover.png", "L", "PNG"),
    ("cover.jpg", "L", "JPEG"),
    ("cover.jpg", "CMYK", "JPEG"),
])
def test_not_rgb(tmp_path: Path, name: str, mode: str, fmt: str) -> None:
    assert cover_problem(make_image(tmp_path / name, mode=mode, fmt=fmt)) == f"cover must be RGB (this one is {mode})"


def test_gif_is_not_allowed(tmp_path: Path) -> None:
    assert cover_problem(make_image(tmp_path / "cover.gif", fmt="GIF")) == "cover must be JPEG or PNG (this one is GIF)"


@pytest.mark.parametrize(("name", "fmt"), [("cover.jpg", "PNG"), ("cover.png", "JPEG"), ("cover.webp", "PNG")])
def test_extension_must_match_real_type(tmp_path: Path, name: str, fmt: str) -> None:
    problem = cover_problem(make_image(tmp_path / name, fmt=fmt))
    assert problem is not None and "does not match its real type" in problem and fmt in problem


def test_default_cover_is_a_valid_cover(tmp_path: Path) -> None:
    data = default_cover("Czechoslovakia 1968: The Prague Spring in Documents", "Jana Nováková")
    path = tmp_path / "cover.png"
    path.write_bytes(data)
    assert cover_problem(path) is None
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (1400, 1400))
        # something was drawn: more than the two background tones
        assert len(image.getcolors(maxcolors=100_000) or ()) > 10


def test_default_cover_is_deterministic() -> None:
    assert default_cover("Same Show", "Same Author") == default_cover("Same Show", "Same Author")
    assert default_cover("Same Show", "Same Author") != default_cover("Other Show", "Same Author")


@pytest.mark.parametrize(("title", "author"), [
    (TRICKY_TITLE, "Přemysl Žluťoučký"),
    ("", ""),
    ("Antidisestablishmentarianismusgeschichtsschreibungsverfahren " * 12, "A. N. Author " * 20),
])
def test_default_cover_survives_odd_titles(tmp_path: Path, title: str, author: str) -> None:
    path = tmp_path / "cover.png"
    path.write_bytes(default_cover(title, author))
    assert cover_problem(path) is None


def test_load_artwork_without_cover_draws_default(tmp_path: Path) -> None:
    artwork, name = load_artwork(make_show(tmp_path))
    assert name == "cover.png" and artwork.mime == "image/png"
    assert artwork.data == default_cover("The Prague Spring", "Jana Nováková")


@pytest.mark.parametrize(("name", "fmt", "published", "mime"), [
    ("art/Cover.JPEG", "JPEG", "cover.jpg", "image/jpeg"),
    ("my cover.png", "PNG", "cover.png", "image/png"),
])
def test_load_artwork_with_cover(tmp_path: Path, name: str, fmt: str, published: str, mime: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(path, fmt=fmt)
    artwork, published_name = load_artwork(make_show(tmp_path, cover=path.resolve()))
    assert (published_name, artwork.mime, artwork.data) == (published, mime, path.read_bytes())


def test_load_artwork_rejects_a_bad_cover(tmp_path: Path) -> None:
    path = make_image(tmp_path / "cover.png", mode="RGBA")
    with pytest.raises(UserError) as info:
        load_artwork(make_show(tmp_path, cover=path))
    assert info.value.message == "show.yaml: cover cover.png: cover must be RGB (this one is RGBA)"


def test_episode_artwork(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    assert episode_artwork(show, None) is None
    (tmp_path / "art").mkdir()
    path = make_image(tmp_path / "art" / "Dubček na Hradě.jpg", fmt="JPEG")
    artwork, name = episode_artwork(show, "art/Dubček na Hradě.jpg") or (None, "")
    assert artwork is not None and artwork.mime == "image/jpeg" and artwork.data == path.read_bytes()
    assert name == "art-dubcek-na-hrade-art.jpg" and name.isascii()


def test_episode_artwork_is_checked(tmp_path: Path) -> None:
    show = make_show(tmp_path / "show")
    (tmp_path / "show").mkdir()
    make_image(tmp_path / "outside.png")
    with pytest.raises(UserError, match="outside the show folder"):
        episode_artwork(show, "../outside.png")
    make_image(tmp_path / "show" / "small.png", (600, 600))
    with pytest.raises(UserError, match=r"image small\.png: image must be 1400 to 3000 px"):
        episode_artwork(show, "small.png", where="scripts/001.md:5")
    with pytest.raises(UserError, match="file does not exist"):
        episode_artwork(show, "gone.png")


@pytest.mark.parametrize(("name", "stem"), [("Dubček", "dubcek"), ("a b/c", "a-b-c"), ("🎙️", "episode")])
def test_safe_stem(name: str, stem: str) -> None:
    assert safe_stem(name) == stem
