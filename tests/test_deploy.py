"""`narrate publish`'s parts: target strings, `publish:` settings, the plan's decisions, and its refusals."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.config import CACHE_CONTROL_KEYS, PUBLISH_KEYS, load_show
from narrate.deploy.address import TargetError, parse_target
from narrate.deploy.headers import content_type, headers_for, kind_of, phase_order
from narrate.deploy.localshow import LocalFile
from narrate.deploy.manifest import MANIFEST_NAME, Manifest, RemoteEntry, parse_manifest
from narrate.deploy.plan import plan_deploy
from narrate.errors import ProblemsError
from narrate.model import PublishSettings
from tests.conftest import SHOW_YAML, write_show

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- target strings


@pytest.mark.parametrize(("text", "kind", "fields"), [
    ("/var/www/show", "folder", {"path": "/var/www/show"}),
    ("file:///srv/podcast", "folder", {"path": "/srv/podcast"}),
    ("sftp://deploy@example.org:2222/var/www/show/", "sftp",
     {"user": "deploy", "host": "example.org", "port": 2222, "path": "/var/www/show"}),
    ("sftp://myhost/~/public_html", "sftp", {"user": "", "host": "myhost", "port": None, "path": "public_html"}),
    ("s3://my-bucket/shows/never", "s3", {"bucket": "my-bucket", "path": "shows/never"}),
    ("s3://my-bucket", "s3", {"bucket": "my-bucket", "path": ""}),
])
def test_targets_parse(text: str, kind: str, fields: dict) -> None:
    address = parse_target(text)
    assert address.kind == kind
    for key, value in fields.items():
        assert getattr(address, key) == value, key


def test_relative_folder_is_relative_to_the_given_folder(tmp_path: Path) -> None:
    assert parse_target("site", tmp_path).path == str(tmp_path / "site")


@pytest.mark.parametrize(("text", "says"), [
    ("sftp://user:hunter2@host/var/www", "must not hold a password"),
    ("s3://AKIA:secret@bucket/x", "must not hold credentials"),
    ("sftp://host", "needs a folder"),
    ("sftp://host:99999/x", "port"),
    ("ftp://host/x", "unknown kind of target"),
    ("s3://b/x?versionId=1", "query"),
    ("s3://a/", "bucket name"),
    ("sftp://host/var/../etc", "'..'"),
    ("", "empty"),
])
def test_bad_targets_say_why(text: str, says: str) -> None:
    with pytest.raises(TargetError) as exc:
        parse_target(text)
    assert says in str(exc.value)


def test_a_password_in_a_target_is_never_echoed() -> None:
    with pytest.raises(TargetError) as exc:
        parse_target("sftp://user:hunter2@host/var/www")
    assert "hunter2" not in str(exc.value)


# --------------------------------------------------------------------------- publish: in show.yaml


def _show(tmp_path: Path, publish: str) -> Path:
    return write_show(tmp_path / "scripts", SHOW_YAML + publish)


def test_publish_settings_are_read(tmp_path: Path) -> None:
    scripts = _show(tmp_path, """\
publish:
  target: s3://bucket/show
  endpoint_url: http://127.0.0.1:9000
  region: eu-central-1
  acl: public-read
  cache_control: {feed: "no-cache", media: "public, max-age=600"}
""")
    settings = load_show(scripts).publish
    assert settings.target == "s3://bucket/show" and settings.target_location.endswith("show.yaml:15")
    assert (settings.endpoint_url, settings.region, settings.acl) == ("http://127.0.0.1:9000", "eu-central-1",
                                                                      "public-read")
    cache = dict(settings.cache_control)
    assert cache == {"feed": "no-cache", "pages": "public, max-age=300", "media": "public, max-age=600"}


@pytest.mark.parametrize(("yaml", "line", "says"), [
    ("publish:\n  target: ftp://x/y\n", 15, "unknown kind of target"),
    ("publish:\n  targt: /srv\n", 15, "unknown publish setting 'targt'"),
    ("publish:\n  aws_secret_access_key: abc\n", 15, "credentials never go in the show file"),
    ("publish:\n  endpoint_url: localhost:9000\n", 15, "endpoint_url must be an http(s) URL"),
    ("publish:\n  acl: everyone\n", 15, "acl must be one of"),
    ("publish:\n  region: Mars Base\n", 15, "region must be a region name"),
    ("publish:\n  cache_control: {feed: \"no-cache\\r\\nX-Evil: 1\"}\n", 15, "Cache-Control value"),
    ("publish:\n  cache_control: {video: no-cache}\n", 15, "unknown cache_control kind 'video'"),
    ("publish: /srv/www\n", 14, "publish must be a mapping"),
])
def test_bad_publish_settings_are_one_line_with_file_and_line(tmp_path: Path, yaml: str, line: int,
                                                              says: str) -> None:
    scripts = _show(tmp_path, yaml)
    with pytest.raises(ProblemsError) as exc:
        load_show(scripts)
    assert len(exc.value.problems) == 1, exc.value.problems
    assert f"show.yaml:{line}:" in exc.value.problems[0] and says in exc.value.problems[0]
    assert "abc" not in exc.value.problems[0]


def test_check_reports_a_bad_publish_setting_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = _show(tmp_path, "publish:\n  target: sftp://u:pw@h/x\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "scripts"])
    assert result.exit_code == 2
    assert "scripts/show.yaml:15: an sftp:// target must not hold a password" in result.output
    assert "pw@" not in result.output and scripts.exists()


@pytest.mark.parametrize("key", [f"publish.{k}" for k in PUBLISH_KEYS] + [f"publish.cache_control.{k}"
                                                                         for k in CACHE_CONTROL_KEYS])
def test_every_publish_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in README, key


# --------------------------------------------------------------------------- kinds and headers


def test_kinds_phases_and_headers() -> None:
    names = ["feed.xml", "index.html", "001-a.0123456789.mp3", "episodes/001-a.html", "cover.abcdef0123.png",
             "001-a.0123456789.chapters.json"]
    assert [kind_of(n) for n in names] == ["feed", "feed", "media", "page", "media", "media"]
    assert sorted(names, key=phase_order)[-2:] == ["feed.xml", "index.html"]
    assert sorted(names, key=phase_order)[-3] == "episodes/001-a.html"
    assert content_type("001-a.0123456789.chapters.json") == "application/json+chapters"
    assert content_type("x.0123456789.mp3") == "audio/mpeg"
    assert content_type("feed.xml").startswith("application/rss+xml")
    assert content_type("x.0123456789.srt").startswith("application/x-subrip")
    settings = PublishSettings(acl="public-read")
    assert headers_for("feed.xml", settings).cache_control == "public, max-age=300"
    assert "immutable" in headers_for("x.0123456789.vtt", settings).cache_control
    assert headers_for("x.0123456789.vtt", settings).as_dict()["ACL"] == "public-read"


# --------------------------------------------------------------------------- the plan


def _local(*specs: tuple[str, str, int]) -> dict[str, LocalFile]:
    return {name: LocalFile(name, size, sha) for name, sha, size in specs}


MP3 = "001-a.0123456789.mp3"
NEW_MP3 = "001-a.9876543210.mp3"


def test_plan_sends_new_and_changed_files_media_first_feed_last() -> None:
    local = _local((NEW_MP3, "9876543210aa", 100), ("feed.xml", "f2", 10), ("episode.html", "p1", 5))
    manifest = Manifest({MP3: RemoteEntry("0123456789aa", 90), "feed.xml": RemoteEntry("f1", 10),
                         "episode.html": RemoteEntry("p1", 5)})
    remote = {MP3: 90, "feed.xml": 10, "episode.html": 5, "someone-elses.txt": 3}
    plan = plan_deploy(local, manifest, remote, lambda n: None, delete=False, manifest_bytes=manifest.to_bytes())
    assert [(u.name, u.reason) for u in plan.uploads] == [(NEW_MP3, "new"), ("feed.xml", "changed")]
    assert [r.name for r in plan.kept] == [MP3] and plan.deletions == ()  # never someone-elses.txt
    assert plan.unchanged == 1 and plan.manifest.stale == (MP3,)
    deleting = plan_deploy(local, manifest, remote, lambda n: None, delete=True, manifest_bytes=None)
    assert [r.name for r in deleting.deletions] == [MP3] and deleting.manifest.stale == ()


def test_replacing_the_feed_first_withdraws_the_manifest_s_word_for_it() -> None:
    """Killed after the new feed but before the final manifest, the old manifest must not vouch for the feed.

    Two versions of a feed often have the same size; a manifest still giving the old one's hash would make
    the next publish of the old version take the new feed for its own, keep it, and delete the files it names.
    """
    local = _local((NEW_MP3, "9876543210aa", 100), ("feed.xml", "f2", 10), ("page.html", "p1", 5))
    manifest = Manifest({MP3: RemoteEntry("0123456789aa", 90), "feed.xml": RemoteEntry("f1", 10),
                         "page.html": RemoteEntry("p1", 5)}, ("old.0123456789.vtt",))
    remote = {MP3: 90, "feed.xml": 10, "page.html": 5}
    plan = plan_deploy(local, manifest, remote, lambda n: None, False, manifest.to_bytes())
    assert plan.pending is not None
    assert set(plan.pending.files) == {MP3, NEW_MP3, "page.html"} and plan.pending.stale == manifest.stale
    # What the next publish makes of it, had this one been killed with the new feed in place: it sends the feed.
    again = plan_deploy(local, plan.pending, {**remote, NEW_MP3: 100}, lambda n: None, False, None)
    assert [(u.name, u.reason) for u in again.uploads] == [("feed.xml", "not in the target's manifest")]
    first = plan_deploy(local, Manifest(), {}, lambda n: None, False, None)
    assert first.pending is None  # nothing listed is replaced: nothing to withdraw


def test_plan_checks_the_manifest_against_the_listing() -> None:
    local = _local((MP3, "0123456789aa", 100), ("feed.xml", "f1", 10), ("notes.html", "n1", 7))
    manifest = Manifest({MP3: RemoteEntry("0123456789aa", 100), "feed.xml": RemoteEntry("f1", 10)})
    # The MP3 is gone from the target, the feed was cut short, the page is there but unrecorded.
    plan = plan_deploy(local, manifest, {"feed.xml": 4, "notes.html": 7}, lambda n: None, False, None)
    assert {u.name: u.reason for u in plan.uploads} == {
        MP3: "missing on the target", "feed.xml": "the target's copy has 4 bytes, not 10",
        "notes.html": "not in the target's manifest"}


def test_a_content_named_file_on_the_target_needs_no_manifest_entry() -> None:
    # A killed publish sent the MP3 (whole: it is renamed into place) but never wrote the manifest.
    local = _local((MP3, "0123456789aa", 100), ("feed.xml", "f1", 10))
    plan = plan_deploy(local, Manifest(), {MP3: 100}, lambda n: None, False, None)
    assert [u.name for u in plan.uploads] == ["feed.xml"] and plan.unchanged == 1
    short = plan_deploy(local, Manifest(), {MP3: 50}, lambda n: None, False, None)
    assert [u.name for u in short.uploads] == [MP3, "feed.xml"]


def test_an_older_version_left_by_a_killed_publish_is_stale() -> None:
    local = _local((NEW_MP3, "9876543210aa", 100), ("feed.xml", "f1", 10))
    remote = {NEW_MP3: 100, MP3: 80, "feed.xml": 10, ".narrate-tmp-00aa11bb22cc-feed.xml": 3, "other.0123456789.mp3": 1}
    plan = plan_deploy(local, Manifest(), remote, lambda n: None, True, None)
    assert [(r.name, r.reason) for r in plan.deletions] == [(MP3, "an older version of 001-a.mp3")]
    assert plan.temps == (".narrate-tmp-00aa11bb22cc-feed.xml",)


def test_changed_headers_resend_the_file() -> None:
    local = _local((MP3, "0123456789aa", 100))
    old = Manifest({MP3: RemoteEntry("0123456789aa", 100, (("Cache-Control", "max-age=60"),
                                                           ("Content-Type", "audio/mpeg")))})
    settings = PublishSettings()
    plan = plan_deploy(local, old, {MP3: 100}, lambda n: headers_for(n, settings), False, old.to_bytes())
    assert [u.reason for u in plan.uploads] == ["headers changed (Cache-Control: public, max-age=31536000, immutable)"]
    same = plan_deploy(local, plan.manifest, {MP3: 100}, lambda n: headers_for(n, settings), False,
                       plan.manifest.to_bytes())
    assert same.nothing_to_do


def test_a_damaged_manifest_means_checking_everything(caplog: pytest.LogCaptureFixture) -> None:
    assert parse_manifest(b"{not json", "t") == Manifest()
    assert parse_manifest(json.dumps({"version": 99, "files": {}}).encode(), "t") == Manifest()
    assert "damaged" in caplog.text
    manifest = Manifest({MP3: RemoteEntry("ab", 1, (("Content-Type", "audio/mpeg"),))}, ("old.mp3",))
    assert parse_manifest(manifest.to_bytes(), "t") == manifest


# --------------------------------------------------------------------------- refusals on a built show


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy-built")
    scripts = write_show(root / "scripts")
    assert not build(scripts, BuildOptions(output=root / "audio", cache_dir=root / "cache", workers=1)).failures
    return root


@pytest.fixture
def show(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(built / "scripts", tmp_path / "scripts")
    shutil.copytree(built / "audio", tmp_path / "audio")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["publish", *args])
    return result.exit_code, result.output


def test_publish_to_a_folder_then_nothing_to_send(show: Path) -> None:
    code, out = _run("--to", "site")
    assert code == 0, out
    assert "sent feed.xml" in out and (show / "site" / MANIFEST_NAME).is_file()
    assert sorted(p.name for p in (show / "site").iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in (show / "audio").iterdir() if not p.name.startswith("."))
    code, out = _run("--to", "site")
    assert code == 0 and "nothing to send: site is up to date" in out


def test_a_site_s_pages_go_after_the_media_and_the_index_after_the_feed(show: Path) -> None:
    (show / "audio" / "episodes").mkdir(exist_ok=True)  # the build writes the pages; one is replaced here
    (show / "audio" / "episodes" / "001-first.html").write_text("<p>page</p>")
    (show / "audio" / "index.html").write_text("<p>index</p>")
    pages = sorted(f"episodes/{p.name}" for p in (show / "audio" / "episodes").glob("*.html"))
    result = CliRunner().invoke(main, ["publish", "--to", "site", "--json"])
    assert result.exit_code == 0, result.output
    sent = json.loads(result.stdout)["sent"]
    tail = len(pages) + 2
    assert sorted(sent[-tail:-2]) == pages and sent[-2:] == ["feed.xml", "index.html"]
    assert not any(name.endswith(".html") for name in sent[:-tail])
    assert (show / "site" / "episodes" / "001-first.html").read_text() == "<p>page</p>"
    (show / "audio" / "episodes" / "001-first.html").write_text("<p>page, edited</p>")
    again = json.loads(CliRunner().invoke(main, ["publish", "--to", "site", "--json"]).stdout)
    assert [(u["name"], u["reason"]) for u in again["uploads"]] == [("episodes/001-first.html", "changed")]
    assert content_type("site.css") == "text/css; charset=utf-8"


def test_the_target_comes_from_the_show_file_relative_to_it(show: Path) -> None:
    with open(show / "scripts" / "show.yaml", "a") as f:
        f.write("publish:\n  target: ../site\n")
    code, out = _run("--dry-run")
    assert code == 0, out
    assert "would send feed.xml" in out and "dry run: nothing was sent" in out
    assert not (show / "site").exists()
    assert _run()[0] == 0 and (show / "site" / "feed.xml").is_file()


def test_no_target_is_one_line_exit_2(show: Path) -> None:
    code, out = _run()
    assert code == 2 and out.strip() == "error: no target to publish to: give --to TARGET, or set publish.target " \
                                        "in scripts/show.yaml"


def test_a_feed_built_for_another_base_url_is_refused(show: Path) -> None:
    yaml = show / "scripts" / "show.yaml"
    yaml.write_text(yaml.read_text().replace("https://example.org/show/", "https://cdn.example.net/pod/"))
    code, out = _run("--to", "site")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert "base_url is https://cdn.example.net/pod/, but audio/feed.xml was built for https://example.org/show/" in out
    assert not (show / "site").exists()


def test_a_feed_naming_a_missing_or_wrong_sized_file_is_refused(show: Path) -> None:
    mp3 = next((show / "audio").glob("*.mp3"))
    mp3.rename(show / "elsewhere.mp3")
    code, out = _run("--to", "site")
    assert code == 2 and f"but {mp3.name} is not in the output folder" in out
    assert not (show / "site").exists()


def test_a_file_changed_after_the_build_is_refused(show: Path) -> None:
    vtt = next((show / "audio").glob("*.vtt"))
    vtt.write_text(vtt.read_text() + "\n")
    code, out = _run("--to", "site")
    assert code == 2 and "do not match the hash in its name" in out and vtt.name in out


def test_a_fifo_in_the_output_is_refused(show: Path) -> None:
    import os
    os.mkfifo(show / "audio" / "pipe.txt")
    code, out = _run("--to", "site")
    assert code == 2 and "pipe.txt: is a FIFO (named pipe), not a regular file" in out


def test_not_a_built_show(show: Path) -> None:
    (show / "audio" / "feed.xml").unlink()
    code, out = _run("--to", "site")
    assert code == 2 and "no feed: this is not a built show" in out
    code, out = _run("nowhere", "--to", "site")
    assert code == 2 and "nowhere: no such folder" in out


def test_the_target_may_not_overlap_the_output(show: Path) -> None:
    for target in ("audio", "audio/sub", "."):
        code, out = _run("--to", target)
        assert code == 2 and "overlap" in out, (target, out)


def test_a_missing_extra_names_the_install_command(show: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_s3fs(name: str, *args, **kwargs):  # noqa: ANN002, ANN003
        if name.split(".")[0] in ("s3fs", "sshfs", "asyncssh"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_s3fs)
    monkeypatch.setattr("importlib.import_module", lambda name: no_s3fs(name))
    for target in ("s3://bucket/show", "sftp://host/srv"):
        code, out = _run("--to", target)
        assert code == 2 and out.strip().endswith("pip install 'narrate[publish]'"), out
        assert len(out.strip().splitlines()) == 1


def test_a_target_failing_midway_is_one_line_and_leaves_the_feed(show: Path) -> None:
    assert _run("--to", "site")[0] == 0
    feed = (show / "site" / "feed.xml").read_bytes()
    # A new file of the show cannot be put in place (a folder stands at its name): the feed stays as it was.
    (show / "audio" / "notes.txt").write_text("x")
    (show / "site" / "notes.txt").mkdir()
    (show / "site" / "notes.txt" / "keep").write_text("y")
    yaml = show / "scripts" / "show.yaml"
    code, out = _run("--to", "site")
    assert code == 1 and out.startswith("error: cannot publish to site: notes.txt: Is a directory; the show online is still whole") and \
        len(out.strip().splitlines()) == 1, out
    assert (show / "site" / "feed.xml").read_bytes() == feed
    assert sorted(p.name for p in (show / "site" / "notes.txt").iterdir()) == ["keep"]
    assert not [p for p in (show / "site").iterdir() if p.name.startswith(".narrate-tmp-")]
    assert yaml.exists()


def test_the_readme_shows_the_shipped_nginx_lines() -> None:
    from importlib.resources import files

    conf = files("narrate.deploy").joinpath("nginx.conf").read_text(encoding="utf-8")
    lines = [line for line in conf.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    block = README.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == lines
