"""`narrate publish` against real targets on loopback: a folder, an OpenSSH server, an S3 server.

For each target: the first publish sends every file; a second sends nothing; after a one-paragraph edit
only that episode's new files and the feed go; after the episode is pruned, `--delete` removes exactly its
files; and publishes SIGKILLed at random instants leave the remote feed consistent (every file it names is
there, whole, with the length it gives), the next publish completing the show.

The show is built once (fake engine) in three versions: v1 (two episodes), v2 (one paragraph of episode 2
edited), v3 (episode 2 removed with --prune).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.deploy.manifest import MANIFEST_NAME
from narrate.feed import PODCAST_NS
from narrate.fsutil import TMP_PREFIX
from narrate.publish import CONTENT_NAME_RE
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show
from tests.servers import NginxServer, S3Server, SSHServer, nginx, s3, sshd  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://example.org/show/"
EDIT = ("Narration for the second episode.", "Narration for the second episode, edited in one paragraph.")
KILLS = 10


# --------------------------------------------------------------------------- the show, built once


@dataclass(frozen=True)
class Versions:
    scripts: Path
    v1: Path
    v2: Path
    v3: Path
    cache: Path


def _files(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    root = tmp_path_factory.mktemp("deploy-show")
    scripts = write_show(root / "scripts", SHOW_YAML, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    out, cache = root / "out", root / "cache"

    def snapshot(name: str, **options: object) -> Path:
        report = build(scripts, BuildOptions(output=out, cache_dir=cache, workers=1, **options))
        assert not report.failures, report.failures
        shutil.copytree(out, root / name, ignore=shutil.ignore_patterns(".narrate.lock"))
        return root / name

    v1 = snapshot("v1")
    second = scripts / "002-second.md"
    second.write_text(second.read_text().replace(*EDIT))
    v2 = snapshot("v2")
    second.unlink()
    v3 = snapshot("v3", prune=True)
    assert set(_files(v1)) != set(_files(v2)) and not any(n.startswith("002-") for n in _files(v3))
    return Versions(scripts, v1, v2, v3, cache)


# --------------------------------------------------------------------------- targets


@dataclass
class Remote:
    """A target for `--to`, and a way for the test to read what it holds (not through narrate)."""

    url: str
    listing: Callable[[], dict[str, bytes]]
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    #: S3: an object's Content-Type and Cache-Control, read back with boto3.
    headers: Callable[[str], tuple[str, str]] | None = None
    server: object = None


def _folder_listing(folder: Path) -> Callable[[], dict[str, bytes]]:
    def listing() -> dict[str, bytes]:
        if not folder.exists():
            return {}
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    return listing


def nginx_lines() -> str:
    """The nginx lines the README gives for a published folder (narrate/deploy/nginx.conf)."""
    return (ROOT / "narrate" / "deploy" / "nginx.conf").read_text(encoding="utf-8")


@pytest.fixture
def folder_remote(nginx: NginxServer) -> Remote:
    """A folder served by a real nginx (as www-data) with the README's configuration lines."""
    nginx.reconfigure(nginx_lines())
    return Remote(str(nginx.root), _folder_listing(nginx.root), server=nginx)


@pytest.fixture
def sftp_remote(sshd: SSHServer) -> Remote:
    """A folder on a real OpenSSH server, reached with the test's key and a known_hosts naming the server."""
    return Remote(sshd.url(), _folder_listing(sshd.root), {"HOME": str(sshd.home)},
                  ("SSH_AUTH_SOCK", "SSH_AGENT_PID"), server=sshd)


@pytest.fixture
def s3_remote(s3: S3Server) -> Remote:
    """A prefix in a bucket of moto's S3 server, credentials and endpoint in the AWS_* variables only."""
    client = s3.client()
    prefix = "shows/never/"

    def listing() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"][len(prefix):]] = client.get_object(Bucket=s3.bucket, Key=obj["Key"])["Body"].read()
        return found

    def headers(name: str) -> tuple[str, str]:
        head = client.head_object(Bucket=s3.bucket, Key=prefix + name)
        return head["ContentType"], head.get("CacheControl", "")

    env = {**s3.environ, "AWS_CONFIG_FILE": str(s3.dir / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(s3.dir / "no-credentials")}
    return Remote(s3.url(prefix), listing, env, ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"),
                  headers, server=s3)


TARGETS = ["folder_remote", "sftp_remote", "s3_remote"]


@pytest.fixture(params=TARGETS)
def remote(request: pytest.FixtureRequest) -> Remote:
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- helpers


def publish(remote: Remote, output: Path, scripts: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    for key, value in remote.env.items():
        monkeypatch.setenv(key, value)
    for key in remote.unset:
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(main, ["publish", str(output), "--to", remote.url, "--scripts", str(scripts),
                                       "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def feed_names(feed: bytes) -> list[tuple[str, int | None]]:
    """Every file the feed names (relative to the base URL), with the enclosure length it gives."""
    root = ET.fromstring(feed)
    names: list[tuple[str, int | None]] = []
    for el in root.iter("enclosure"):
        names.append((el.get("url", "").removeprefix(BASE_URL), int(el.get("length", "-1"))))
    for tag in ("chapters", "transcript"):
        names += [(el.get("url", "").removeprefix(BASE_URL), None) for el in root.iter(f"{{{PODCAST_NS}}}{tag}")]
    names += [(el.text or "", None) for el in root.iter("url")]
    return [(n.removeprefix(BASE_URL), length) for n, length in names]


def assert_consistent(files: dict[str, bytes]) -> bytes:
    """The remote feed names only files that are there, whole: right length, bytes matching their content hash."""
    assert "feed.xml" in files
    feed = files["feed.xml"]
    for name, length in feed_names(feed):
        assert name in files, f"the remote feed names {name}, which is not on the target"
        data = files[name]
        if length is not None:
            assert len(data) == length, f"{name}: {len(data)} bytes, the feed says {length}"
        match = CONTENT_NAME_RE.match(name)
        assert match and hashlib.sha256(data).hexdigest().startswith(match.group("digest")), name
    return feed


def public(files: dict[str, bytes]) -> dict[str, bytes]:
    return {n: d for n, d in files.items() if not n.rsplit("/", 1)[-1].startswith(".")}


def same_as(files: dict[str, bytes], output: Path) -> bool:
    local = {n: (output / n).read_bytes() for n in _files(output)}
    return public(files) == local


# --------------------------------------------------------------------------- scenarios

EXPECTED_TYPES = {".mp3": "audio/mpeg", ".chapters.json": "application/json+chapters", ".vtt": "text/vtt",
                  ".srt": "application/x-subrip", ".png": "image/png", ".xml": "application/rss+xml",
                  ".html": "text/html"}
SHORT, LONG = "public, max-age=300", "public, max-age=31536000, immutable"


def _expected(name: str) -> tuple[str, str]:
    suffix = ".chapters.json" if name.endswith(".chapters.json") else Path(name).suffix
    return EXPECTED_TYPES[suffix], SHORT if name == "feed.xml" or suffix == ".html" else LONG  # pages change


def assert_s3_headers(remote: Remote, files: dict[str, int]) -> None:
    """Every object's Content-Type and Cache-Control, read back from the S3 server with boto3."""
    assert remote.headers is not None
    for name in files:
        content_type, cache = remote.headers(name)
        want_type, want_cache = _expected(name)
        assert content_type.split(";")[0] == want_type and cache == want_cache, (name, content_type, cache)


def assert_served(server: NginxServer, held: dict[str, bytes]) -> None:
    """nginx, with the README's lines, serves each file with its type and caching; the manifest is hidden."""
    for name, data in public(held).items():
        status, headers, body = server.get(server.url(name))
        want_type, want_cache = _expected(name)
        assert status == 200 and body == data, name
        assert headers["Content-Type"].split(";")[0] == want_type and headers["Cache-Control"] == want_cache, \
            (name, headers)
    mp3 = next(n for n in held if n.endswith(".mp3"))
    status, headers, body = server.get(server.url(mp3), headers={"Range": "bytes=0-99"})
    assert status == 206 and body == held[mp3][:100]
    assert server.get(server.url(MANIFEST_NAME))[0] == 404



def _changed(old: Path, new: Path, names: dict) -> set[str]:
    """The files of the new version that are new or differ in bytes from the old version's."""
    return {n for n in names if not (old / n).is_file() or (old / n).read_bytes() != (new / n).read_bytes()}


def _last(changed: set[str]) -> list[str]:
    """The order the last uploads take: the feed, then the site's index, of those that changed."""
    return [n for n in ("feed.xml", "index.html") if n in changed]


def test_first_noop_edit_delete(remote: Remote, versions: Versions, monkeypatch: pytest.MonkeyPatch) -> None:
    v1, v2, v3 = _files(versions.v1), _files(versions.v2), _files(versions.v3)

    first = publish(remote, versions.v1, versions.scripts, monkeypatch=monkeypatch)
    assert sorted(first["sent"]) == sorted(v1)
    assert first["sent"][-2:] == ["feed.xml", "index.html"]  # the feed goes last, then the site's index
    assert first["sent_bytes"] == sum(v1.values())
    held = remote.listing()
    assert same_as(held, versions.v1) and MANIFEST_NAME in held
    assert_consistent(held)
    if remote.headers is not None:
        assert_s3_headers(remote, v1)
    if isinstance(remote.server, NginxServer):
        assert_served(remote.server, held)

    again = publish(remote, versions.v1, versions.scripts, monkeypatch=monkeypatch)
    assert again["sent"] == [] and again["sent_bytes"] == 0 and not again["manifest_written"]
    assert again["unchanged"] == len(v1)
    assert remote.listing() == held  # not a byte written, the manifest included

    edit = publish(remote, versions.v2, versions.scripts, monkeypatch=monkeypatch)
    changed = _changed(versions.v1, versions.v2, v2)
    assert "feed.xml" in changed
    assert set(edit["sent"]) == changed
    # that episode's files (media, sidecars, its page) only, besides the feed and the index
    assert {Path(n).name.split(".")[0] for n in changed - {"feed.xml", "index.html"}} == {"002-second"}
    assert edit["sent"][-len(_last(changed)):] == _last(changed)
    assert edit["sent_bytes"] == sum(v2[n] for n in changed)
    old = {n for n in v1 if n not in v2}
    assert {k["name"] for k in edit["kept"]} == old  # stale, but kept: no --delete
    held = remote.listing()
    assert set(public(held)) == set(v1) | set(v2)
    assert_consistent(held)

    dry = publish(remote, versions.v3, versions.scripts, "--delete", "--dry-run", monkeypatch=monkeypatch)
    removed = _changed(versions.v2, versions.v3, v3)
    assert [u["name"] for u in dry["uploads"]] == _last(removed) and dry["sent"] == []
    assert remote.listing() == held

    removal = publish(remote, versions.v3, versions.scripts, "--delete", monkeypatch=monkeypatch)
    assert removal["sent"] == _last(removed) and "feed.xml" in removal["sent"]
    assert set(removal["deleted"]) == {n for n in {*v1, *v2} if Path(n).name.startswith("002-")}
    held = remote.listing()
    assert same_as(held, versions.v3)
    assert_consistent(held)
    manifest = json.loads(held[MANIFEST_NAME])
    assert set(manifest["files"]) == set(v3) and manifest["stale"] == []

    final = publish(remote, versions.v3, versions.scripts, "--delete", monkeypatch=monkeypatch)
    assert final["sent"] == [] and final["deleted"] == []
    print(f"\n{remote.url}: first {len(first['sent'])} files, {first['sent_bytes']} B; no-op 0 files; "
          f"edit {len(edit['sent'])} files, {edit['sent_bytes']} B; --delete sent {len(removal['sent'])} files, "
          f"{removal['sent_bytes']} B, deleted {len(removal['deleted'])}")


def _publish_process(remote: Remote, output: Path, scripts: Path) -> subprocess.Popen:
    env = {k: v for k, v in {**os.environ, **remote.env}.items() if k not in remote.unset}
    return subprocess.Popen([sys.executable, "-m", "narrate", "-v", "publish", str(output), "--to", remote.url,
                             "--scripts", str(scripts), "--delete"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _connected(process: subprocess.Popen) -> float:
    """Wait for the publish's "connected to" line (it then reads the target and sends); the time it came."""
    assert process.stderr is not None
    for line in process.stderr:
        if "connected to" in line:
            return time.monotonic()
    return time.monotonic()


def test_killed_publishes_leave_a_consistent_feed(remote: Remote, versions: Versions) -> None:
    """SIGKILL at random instants of publishes that alternate between two versions (with --delete).

    Half the kills come after a random delay drawn from the time a whole publish takes once connected
    (measured on the first one), so they land while it sends, renames, writes the manifest or deletes; the
    other half right after a random step's log line (a file sent, the manifest written, a file deleted), so
    every boundary between steps is hit too. Kills that come after the publish ended do not count.
    """
    rng = random.Random(int(os.environ.get("NARRATE_KILL_SEED", "13")))
    shows = [versions.v1, versions.v2]
    first = _publish_process(remote, versions.v1, versions.scripts)
    since = last = _connected(first)
    assert first.stderr is not None
    for line in first.stderr:
        if line.startswith("DEBUG: "):
            last = time.monotonic()  # the last step: the manifest
    assert first.wait(60) == 0
    window = last - since
    feeds = {(v / "feed.xml").read_bytes() for v in shows}
    kills = attempts = 0
    where: list[str] = []
    while kills < KILLS:
        attempts += 1
        assert attempts <= KILLS * 4, f"only {kills} of {attempts} publishes were still running when killed"
        process = _publish_process(remote, shows[attempts % 2], versions.scripts)
        connected = _connected(process)
        if attempts % 2:
            time.sleep(max(0.0, connected + rng.uniform(0, window) - time.monotonic()))
            how = "delay"
        else:
            steps, seen = rng.randint(1, 8), 0
            assert process.stderr is not None
            while seen < steps and (line := process.stderr.readline()):
                seen += line.startswith("DEBUG: ")
            how = f"step {seen}"
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
            where.append(how)
        process.wait(30)
        feed = assert_consistent(remote.listing())
        assert feed in feeds  # the previous feed or the new one, whole
    print(f"{remote.url}: {kills} kills in {attempts} publishes (window {window * 1000:.0f} ms): {', '.join(where)}")
    final = _publish_process(remote, versions.v2, versions.scripts)
    assert final.wait(60) == 0, final.stderr.read()
    held = remote.listing()
    assert same_as(held, versions.v2)
    assert not any(n.rsplit("/", 1)[-1].startswith(TMP_PREFIX) for n in held)
    assert_consistent(held)


def test_a_folder_behind_nginx_passes_check_published(nginx: NginxServer, versions: Versions,
                                                      tmp_path: Path) -> None:
    """The show built for nginx's address, published to the folder nginx serves, read back by check --published."""
    nginx.reconfigure(nginx_lines())
    scripts = tmp_path / "scripts"
    shutil.copytree(versions.scripts, scripts)
    shutil.copytree(versions.v1, tmp_path / "out")
    (scripts / "002-second.md").write_text(EPISODE_TWO)
    yaml = scripts / "show.yaml"
    yaml.write_text(yaml.read_text().replace(BASE_URL, nginx.base))
    report = build(scripts, BuildOptions(output=tmp_path / "out", cache_dir=versions.cache, workers=1))
    assert not report.failures and report.rendered == 0  # a new base URL rewrites only the feed
    result = CliRunner().invoke(main, ["publish", str(tmp_path / "out"), "--to", str(nginx.root), "--scripts",
                                       str(scripts), "-q"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["check", "--published", nginx.base])
    assert result.exit_code == 0, result.output
    served = nginx.get(nginx.url("feed.xml"))
    assert served[0] == 200 and served[2] == (tmp_path / "out" / "feed.xml").read_bytes()


def test_an_unknown_sftp_host_is_refused(sshd: SSHServer, versions: Versions,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A known_hosts that does not know the server: one line, exit 2, nothing sent, known_hosts untouched."""
    sshd.use(monkeypatch, known=False)
    before = sshd.stranger_known_hosts.read_bytes()
    result = CliRunner().invoke(main, ["publish", str(versions.v1), "--to", sshd.url(), "--scripts",
                                       str(versions.scripts)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "the host key of 127.0.0.1 is not trusted" in lines[0]
    assert "never accepts an unknown or changed host key" in lines[0]
    assert list(sshd.root.iterdir()) == []
    assert sshd.stranger_known_hosts.read_bytes() == before
    sshd.use(monkeypatch, known=True)  # the same command with the server known goes through
    result = CliRunner().invoke(main, ["publish", str(versions.v1), "--to", sshd.url(), "--scripts",
                                       str(versions.scripts), "-q"])
    assert result.exit_code == 0, result.output
    assert (sshd.root / "feed.xml").read_bytes() == (versions.v1 / "feed.xml").read_bytes()


def test_s3_without_credentials_says_so(s3: S3Server, versions: Versions, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.use(monkeypatch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # botocore would ask 169.254.169.254: loopback only
    result = CliRunner().invoke(main, ["publish", str(versions.v1), "--to", s3.url("x"), "--scripts",
                                       str(versions.scripts)])
    assert result.exit_code == 2 and "no AWS credentials" in result.output, result.output
    assert "testing-secret" not in result.output


def test_s3_target_and_endpoint_from_the_show_file(s3: S3Server, versions: Versions, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`publish.target` and `publish.endpoint_url` in show.yaml, no AWS_ENDPOINT_URL: the objects land there."""
    s3.use(monkeypatch)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    scripts = tmp_path / "scripts"
    shutil.copytree(versions.scripts, scripts)
    with open(scripts / "show.yaml", "a") as f:
        f.write(f"publish:\n  target: s3://{s3.bucket}/from-yaml\n  endpoint_url: {s3.endpoint}\n"
                "  cache_control: {media: \"public, max-age=86400\"}\n")
    result = CliRunner().invoke(main, ["publish", str(versions.v3), "--scripts", str(scripts), "--json"])
    assert result.exit_code == 0, result.output
    sent = json.loads(result.stdout)["sent"]
    assert sorted(sent) == sorted(_files(versions.v3))
    client = s3.client()
    mp3 = next(n for n in sent if n.endswith(".mp3"))
    head = client.head_object(Bucket=s3.bucket, Key=f"from-yaml/{mp3}")
    assert head["ContentType"] == "audio/mpeg" and head["CacheControl"] == "public, max-age=86400"
    assert "testing-secret" not in result.output and "testing-key-id" not in result.output
