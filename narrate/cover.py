"""Show and episode artwork: validating the user's images against podcast directory rules, drawing a default cover.

Apple Podcasts (the strictest directory) wants JPEG or PNG, RGB, square, 1400 to 3000 px on a side,
with a file extension that matches the real type; see shared STANDARDS.md.
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from narrate.config import inside_problem
from narrate.errors import UserError
from narrate.model import Show
from narrate.tags import Artwork

log = logging.getLogger(__name__)

MIN_SIDE = 1400
MAX_SIDE = 3000
MIMES = {"JPEG": "image/jpeg", "PNG": "image/png"}
EXTENSIONS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}
PUBLISHED_EXT = {"JPEG": "jpg", "PNG": "png"}

# Known places of DejaVu on Debian/Ubuntu, Fedora, Arch and macOS (Homebrew); tried before fc-match
# so the usual case needs no subprocess.
_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/local/share/fonts",
    "/opt/homebrew/share/fonts",
)

# Colours of the default cover: a dark two-tone background, off-white title, muted author.
_BACKGROUND_TOP = (20, 24, 33)
_BACKGROUND_BOTTOM = (28, 34, 46)
_TITLE_COLOUR = (244, 241, 234)
_AUTHOR_COLOUR = (178, 184, 196)
# The accent is picked from these by a hash of the title, so different shows look different while
# a show's cover never changes between builds.
_ACCENTS = (
    (224, 160, 74),   # amber
    (94, 176, 168),   # teal
    (214, 104, 92),   # brick
    (140, 156, 228),  # periwinkle
    (168, 200, 104),  # moss
)


def _image_problem(path: Path, what: str) -> str | None:
    if not path.exists():
        return "file does not exist"
    if not path.is_file():
        return "not a file"
    try:
        # verify() checks the structure without decoding; it leaves the image unusable, so reopen after.
        with Image.open(path) as probe:
            probe.verify()
        with Image.open(path) as image:
            kind, mode, (width, height) = image.format, image.mode, image.size
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        return f"not an image that can be read ({exc})"
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports broken files as any of these, depending on the format and where it breaks.
        return f"not a readable image ({exc})"
    if kind not in MIMES:
        return f"{what} must be JPEG or PNG (this one is {kind or 'of an unknown type'})"
    if mode != "RGB":
        return f"{what} must be RGB (this one is {mode})"
    if width != height:
        return f"{what} must be square (this one is {width}x{height} px)"
    if not MIN_SIDE <= width <= MAX_SIDE:
        return f"{what} must be {MIN_SIDE} to {MAX_SIDE} px on a side (this one is {width}x{height} px)"
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS[kind]:
        return (f"file extension '{path.suffix}' does not match its real type {kind}; "
                f"rename it to {path.stem}{EXTENSIONS[kind][0]}")
    try:
        # Decoding catches truncated data, which verify() misses for JPEG; done last, as it is the slow part.
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        return f"image data is damaged ({exc})"
    return None


def cover_problem(path: Path, *, what: str = "cover") -> str | None:
    """None when `path` is a valid podcast cover, else a one-line reason it is not."""
    return _image_problem(Path(path), what)


@functools.lru_cache(maxsize=None)
def _font_path(bold: bool) -> str | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    fc_match = shutil.which("fc-match")
    if fc_match:
        pattern = "DejaVu Sans:bold" if bold else "DejaVu Sans"
        try:
            found = subprocess.run([fc_match, "-f", "%{file}", pattern], capture_output=True, text=True,
                                   timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        # fc-match always answers with some font; only DejaVu is known to cover Central European letters.
        if found and "dejavu" in Path(found).name.lower() and Path(found).is_file():
            return found
    return None


def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path(bold)
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError as exc:
            log.debug("cannot load font %s (%s); using Pillow's bundled font", path, exc)
    return ImageFont.load_default(size=size)


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    try:
        ascent, descent = font.getmetrics()  # type: ignore[union-attr]
        return ascent + descent
    except AttributeError:
        left, top, right, bottom = font.getbbox("ÁÉgjy")
        return int(bottom - top)


def _split_long_word(word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and font.getlength(current + char) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int,
          break_words: bool) -> list[str] | None:
    """Greedy word wrap by rendered width; None when a word is too wide and may not be broken."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if font.getlength(word) > width:
            if not break_words:
                return None
            if current:
                lines.append(current)
            *whole, current = _split_long_word(word, font, width)
            lines.extend(whole)
            continue
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _fit(text: str, width: int, height: int, largest: int, smallest: int, bold: bool,
         ) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, list[str], int]:
    """The largest font (and its lines and line pitch) at which `text` fits the box; shrinks in small steps."""
    size = largest
    while True:
        font = _font(size, bold)
        pitch = round(_line_height(font) * 1.08)
        at_smallest = size <= smallest
        lines = _wrap(text, font, width, break_words=at_smallest)
        if lines is not None and (len(lines) * pitch <= height or at_smallest):
            break
        size = max(smallest, round(size * 0.94))
    if len(lines) * pitch > height:
        # Even the smallest size overflows: keep what fits and mark the cut.
        keep = max(1, height // pitch)
        lines = lines[:keep]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return font, lines, pitch


def default_cover(title: str, author: str, size: int = MIN_SIDE) -> bytes:
    """A plain, readable default cover: PNG, RGB, square, with the show's title and author."""
    title = unicodedata.normalize("NFC", " ".join(title.split()))
    author = unicodedata.normalize("NFC", " ".join(author.split()))
    scale = size / MIN_SIDE
    margin = round(120 * scale)
    text_width = size - 2 * margin
    split = round(size * 0.70)  # where the lighter lower band starts: the author sits on it

    image = Image.new("RGB", (size, size), _BACKGROUND_TOP)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, split, size, size), fill=_BACKGROUND_BOTTOM)
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    accent = _ACCENTS[digest[0] % len(_ACCENTS)]
    # A thin accent line along the band's edge, and a short thick rule that marks the author.
    draw.rectangle((0, split, size, split + max(1, round(3 * scale))), fill=accent)

    if title:
        top_space = split - 2 * margin
        font, lines, pitch = _fit(title, text_width, top_space, round(150 * scale), round(56 * scale), bold=True)
        # Set the title at the bottom of the upper area, so short and long titles share a baseline region.
        y = split - margin - len(lines) * pitch
        for line in lines:
            draw.text((margin, y), line, font=font, fill=_TITLE_COLOUR)
            y += pitch

    rule_top = split + round(80 * scale)
    draw.rectangle((margin, rule_top, margin + round(140 * scale), rule_top + round(8 * scale)), fill=accent)
    if author:
        author_space = size - margin // 2 - (rule_top + round(40 * scale))
        font, lines, pitch = _fit(author, text_width, min(author_space, round(170 * scale)), round(64 * scale),
                                  round(36 * scale), bold=False)
        y = rule_top + round(44 * scale)
        for line in lines:
            draw.text((margin, y), line, font=font, fill=_AUTHOR_COLOUR)
            y += pitch

    out = io.BytesIO()
    # No pnginfo: Pillow then writes no tIME or text chunks, so the same inputs give the same bytes.
    image.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def _read_checked(path: Path, label: str, what: str) -> tuple[Artwork, str]:
    """The image's bytes, MIME type and published extension, or UserError naming `label`."""
    problem = cover_problem(path, what=what)
    if problem:
        raise UserError(f"{label}: {problem}")
    with Image.open(path) as image:
        kind = image.format or ""
    return Artwork(data=path.read_bytes(), mime=MIMES[kind]), PUBLISHED_EXT[kind]


def _shown(show: Show, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(show.root.resolve()))
    except ValueError:
        return str(path)


def load_artwork(show: Show) -> tuple[Artwork, str]:
    """The show's cover and its published file name: the configured cover, checked, or a drawn default."""
    if show.cover is None:
        log.debug("no cover configured; drawing the default cover")
        data = default_cover(show.title, show.author)
        return Artwork(data=data, mime="image/png"), "cover.png"
    path = show.cover if show.cover.is_absolute() else show.root / show.cover
    artwork, ext = _read_checked(path, f"{show.path}: cover {_shown(show, path)}", "cover")
    return artwork, f"cover.{ext}"


def safe_stem(name: str) -> str:
    """An ASCII file-name stem for a URL: diacritics dropped, anything else odd turned into dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-._").lower()
    return re.sub(r"-{2,}", "-", stem) or "episode"


def episode_image_problem(root: Path, value: str) -> str | None:
    """None when `value` names a valid episode image inside the show folder `root`, else why not."""
    path, problem = inside_problem(root, value)
    if problem is None or not path.exists():
        problem = cover_problem(path, what="image")
    return f"image {value}: {problem}" if problem else None


def episode_artwork(show: Show, episode_image: str | None, *, where: str | None = None) -> tuple[Artwork, str] | None:
    """An episode's own image (a path relative to the show folder) and its published name; None without one."""
    if not episode_image:
        return None
    where = where or show.path
    root = show.root.resolve()
    problem = episode_image_problem(show.root, episode_image)
    if problem:
        raise UserError(f"{where}: {problem}")
    path = (show.root / episode_image).resolve()
    artwork, ext = _read_checked(path, f"{where}: image {episode_image}", "image")
    # The relative folder goes into the name too, so art/a.png and extra/a.png cannot overwrite each other;
    # "-art" keeps it apart from cover.* and from the episodes' own files.
    relative = path.relative_to(root).with_suffix("")
    stem = safe_stem("-".join(relative.parts))
    return artwork, f"{stem[:80].rstrip('-._')}-art.{ext}"
