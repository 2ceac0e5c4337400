"""A shared cache at an fsspec URL (`--cache-dir file:///…`, `s3://…`): a piece rendered anywhere is reused everywhere.

Each "machine" here is a build with a local cache folder of its own and the same shared cache; S3 is moto's
server on loopback.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.errors import NarrateError, UserError
from narrate.fsutil import is_url
from narrate.shared import SharedCache
from tests import fake_engine
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show
from tests.servers import S3Server, s3  # noqa: F401 - the fixture

TODAY = dt.date(2026, 6, 1)


def _build(scripts: Path, out: Path, cache: Path, shared: str | None = None, **kw):
    options = BuildOptions(output=out, cache_dir=cache, in_process=True, today=TODAY, shared_cache=shared, **kw)
    return build(scripts, options)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def _entries(folder: Path) -> dict[str, tuple[bytes, dict]]:
    """The entries of a cache folder (local or shared): key -> (WAV bytes, checksum file)."""
    return {p.stem: (p.read_bytes(), json.loads(p.with_suffix(".json").read_text())) for p in folder.glob("??/*.wav")}


@pytest.fixture
def show(tmp_path: Path) -> Path:
    return write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})


@pytest.mark.parametrize("probe_limit", [2048, 0], ids=["asked-key-by-key", "listed"])
def test_a_piece_rendered_on_one_machine_is_fetched_not_rendered_on_another(show: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          probe_limit: int) -> None:
    import narrate.shared

    monkeypatch.setattr(narrate.shared, "PROBE_LIMIT", probe_limit)
    shared = tmp_path / "shared"
    url = shared.as_uri()
    first = _build(show, tmp_path / "a-out", tmp_path / "a-cache", url)
    assert not first.failures and first.rendered > 2
    # Every piece went to the shared cache, as the local cache holds it, each with a checksum that holds.
    stored = _entries(shared)
    assert stored == _entries(tmp_path / "a-cache")
    assert len(stored) == first.rendered
    for wav, meta in stored.values():
        assert hashlib.sha256(wav).hexdigest() == meta["sha256"] and len(wav) == meta["bytes"]
    assert not [p for p in shared.rglob("*") if p.is_file() and p.suffix not in (".wav", ".json")]  # no temporaries
    # Another machine (its own, empty local cache) renders nothing and publishes the same files.
    fake_engine.CALLS.clear()
    second = _build(show, tmp_path / "b-out", tmp_path / "b-cache", url)
    assert not second.failures
    assert second.rendered == 0 and fake_engine.CALLS == []
    assert _entries(tmp_path / "b-cache") == stored
    assert _files(tmp_path / "b-out") == _files(tmp_path / "a-out")


def test_a_damaged_shared_entry_is_rendered_again_not_used(show: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "shared"
    _build(show, tmp_path / "a-out", tmp_path / "a-cache", shared.as_uri())
    wav = sorted(shared.glob("??/*.wav"))[0]
    data = bytearray(wav.read_bytes())
    data[-1] ^= 0xFF  # one sample changed: same length, wrong checksum
    wav.write_bytes(bytes(data))
    second = _build(show, tmp_path / "b-out", tmp_path / "b-cache", shared.as_uri())
    assert second.rendered == 1 and not second.failures
    assert "is damaged" in caplog.text and wav.stem[:12] in caplog.text
    assert (tmp_path / "b-cache" / wav.parent.name / wav.name).read_bytes() != bytes(data)
    assert _files(tmp_path / "b-out") == _files(tmp_path / "a-out")
    # The shared cache was repaired: the piece rendered again replaced the damaged entry there.
    assert _entries(shared) == _entries(tmp_path / "b-cache")
    assert _build(show, tmp_path / "c-out", tmp_path / "c-cache", shared.as_uri()).rendered == 0


def test_an_entry_without_its_checksum_file_is_not_an_entry(show: Path, tmp_path: Path) -> None:
    """A writer stopped between the audio and the checksum file (written last) left no entry."""
    shared = tmp_path / "shared"
    first = _build(show, tmp_path / "a-out", tmp_path / "a-cache", shared.as_uri())
    sorted(shared.glob("??/*.json"))[0].unlink()
    assert len(SharedCache(shared.as_uri()).keys()) == first.rendered - 1
    assert _build(show, tmp_path / "b-out", tmp_path / "b-cache", shared.as_uri()).rendered == 1


def test_pieces_only_this_machine_had_are_stored_in_the_shared_cache(show: Path, tmp_path: Path) -> None:
    local = _build(show, tmp_path / "a-out", tmp_path / "cache")
    shared = tmp_path / "shared"
    again = _build(show, tmp_path / "b-out", tmp_path / "cache", shared.as_uri())
    assert again.rendered == 0
    assert _entries(shared) == _entries(tmp_path / "cache") and len(_entries(shared)) == local.rendered


def test_a_dry_run_counts_what_neither_cache_has(show: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    first = _build(show, tmp_path / "a-out", tmp_path / "a-cache", shared.as_uri())
    (show / "001-first.md").write_text(EPISODE_ONE.replace("It sets the scene.", "It sets a new scene."))
    plan = _build(show, tmp_path / "b-out", tmp_path / "b-cache", shared.as_uri(), dry_run=True)
    assert plan.rendered == 1
    assert _build(show, tmp_path / "b-out", tmp_path / "b-cache", dry_run=True).rendered == first.rendered


def test_the_cli_takes_an_s3_url_as_the_cache(show: Path, tmp_path: Path, s3: S3Server,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s3.use(monkeypatch)
    url = s3.url("narrate/cache")
    monkeypatch.setenv("NARRATE_CACHE_DIR", str(tmp_path / "a-cache"))
    args = ["-q", "build", str(show), "-o", str(tmp_path / "a-out"), "--cache-dir", url, "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    local = _entries(tmp_path / "a-cache")
    assert local  # the local copy is the default folder (here NARRATE_CACHE_DIR)
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="narrate/cache/")["Contents"]
    names = {item["Key"] for item in listed}
    assert names == {f"narrate/cache/{key[:2]}/{key}{suffix}" for key in local for suffix in (".wav", ".json")}
    # A second machine builds from the bucket: nothing rendered, the same files.
    monkeypatch.setenv("NARRATE_CACHE_DIR", str(tmp_path / "b-cache"))
    fake_engine.CALLS.clear()
    args = ["build", "--json", str(show), "-o", str(tmp_path / "b-out"), "--cache-dir", url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rendered_pieces"] == 0 and fake_engine.CALLS == []
    assert _entries(tmp_path / "b-cache") == local
    assert _files(tmp_path / "b-out") == _files(tmp_path / "a-out")


def test_a_shared_cache_lost_while_storing_still_publishes_the_episodes(show: Path, tmp_path: Path,
                                                                        s3: S3Server,  # noqa: F811
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from narrate.build import Progress

    class StopS3(Progress):
        """Stops the S3 server once the pieces are rendered, as the build starts storing them there."""

        def start(self, stage: str, total: int) -> None:
            if stage.startswith("storing pieces in"):
                s3.close()

    s3.use(monkeypatch)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = s3.url("cache")
    report = build(show, BuildOptions(output=tmp_path / "out", cache_dir=tmp_path / "cache", in_process=True,
                                      today=TODAY, shared_cache=url), StopS3())
    assert s3.process is None, "the server was stopped during the build"
    assert len(report.failures) == 1
    assert report.failures[0].startswith(f"shared cache {url}: cannot write to it: ")
    assert report.failures[0].endswith(f"(the episodes were built; the pieces not stored there are in "
                                       f"{tmp_path / 'cache'} only)")
    # Both episodes were built and published; their pieces are in the local cache.
    assert len(list((tmp_path / "out").glob("*.mp3"))) == 2 and (tmp_path / "out" / "feed.xml").exists()
    assert len(_entries(tmp_path / "cache")) == report.rendered


def test_an_unreachable_shared_cache_is_one_line(show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for name, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(NarrateError) as caught:
        _build(show, tmp_path / "out", tmp_path / "cache", "s3://bucket/cache")
    message = caught.value.message
    assert message.startswith("shared cache s3://bucket/cache: cannot read its entries: ") and "\n" not in message
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.mp3"))


@pytest.mark.parametrize(("value", "problem"), [
    ("nope://somewhere/cache", "shared cache nope://somewhere/cache: "),
    ("sftp://host/cache", "shared cache sftp://host/cache: SFTP is not supported for a shared cache"),
])
def test_a_shared_cache_of_an_unknown_kind_is_refused(show: Path, tmp_path: Path, value: str, problem: str) -> None:
    result = CliRunner().invoke(main, ["build", str(show), "-o", str(tmp_path / "out"), "--cache-dir", value])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {problem}") or f"Error: {problem}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_clean_refuses_a_shared_cache(show: Path) -> None:
    result = CliRunner().invoke(main, ["clean", str(show), "--cache-dir", "s3://bucket/cache"])
    assert result.exit_code == 2
    assert "narrate clean removes a local cache folder" in result.output


def test_what_counts_as_a_url() -> None:
    assert is_url("s3://bucket/cache") and is_url("file:///srv/cache") and is_url("sftp://host/cache")
    assert not is_url("/srv/cache") and not is_url("cache") and not is_url("C:\\cache") and not is_url("://x")
    with pytest.raises(UserError):
        SharedCache("nope://x")


def test_the_cache_variable_is_a_local_folder(show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NARRATE_CACHE_DIR names the local folder; a URL there would be taken for a folder named `s3:`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NARRATE_CACHE_DIR", "s3://bucket/cache")
    result = CliRunner().invoke(main, ["build", str(show), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "NARRATE_CACHE_DIR=s3://bucket/cache: must be a local folder" in result.output
    assert not (tmp_path / "s3:").exists() and not (tmp_path / "out").exists()


def test_a_build_reads_each_shared_file_once(show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checksum files read to see what the shared cache has are not read again to fetch the pieces."""
    import collections

    shared = tmp_path / "shared"
    first = _build(show, tmp_path / "a-out", tmp_path / "a-cache", shared.as_uri())
    reads: collections.Counter[str] = collections.Counter()
    cat = SharedCache._cat

    def counted(self: SharedCache, paths: list[str], what: str) -> dict[str, bytes]:
        reads.update(paths)
        return cat(self, paths, what)

    monkeypatch.setattr(SharedCache, "_cat", counted)
    assert _build(show, tmp_path / "b-out", tmp_path / "b-cache", shared.as_uri()).rendered == 0
    assert len(reads) == 2 * first.rendered  # every piece's audio and checksum file
    assert set(reads.values()) == {1}
