"""The loopback servers of tests/servers.py do what publishing tests rely on.

nginx sends each kind of file with its type and caching header and answers HEAD and ranges; sshd takes the
test's key over SFTP and paramiko, checking host keys, accepts it from known_hosts and refuses it otherwise;
moto's S3 server keeps the Content-Type and Cache-Control a client stores.
"""
from __future__ import annotations

import io
import subprocess

import pytest

from narrate.fsutil import HASH_DIGITS
from tests.servers import (CHAPTERS_TYPE, LONG_CACHE, LOOPBACK, SHORT_CACHE, NginxServer, S3Server, SSHServer,
                           nginx, s3, sshd)  # noqa: F401 (fixtures)

DIGEST = "0123456789abcdef"[:HASH_DIGITS]


def test_nginx_sends_types_and_caching_headers_by_kind_of_file(nginx: NginxServer) -> None:
    files = {
        "feed.xml": ("application/rss+xml", SHORT_CACHE),
        "index.html": ("text/html", SHORT_CACHE),
        f"001-first.{DIGEST}.mp3": ("audio/mpeg", LONG_CACHE),
        f"001-first.{DIGEST}.vtt": ("text/vtt", LONG_CACHE),
        f"001-first.{DIGEST}.srt": ("application/x-subrip", LONG_CACHE),
        f"001-first.{DIGEST}.chapters.json": (CHAPTERS_TYPE, LONG_CACHE),
        "001-first.chapters.json": (CHAPTERS_TYPE, SHORT_CACHE),  # the older, not content-named layout
        f"cover.{DIGEST}.png": ("image/png", LONG_CACHE),
        f"art.{DIGEST}.jpg": ("image/jpeg", LONG_CACHE),
        "001-first.mp3": ("audio/mpeg", SHORT_CACHE),  # not content-named: its bytes may change
    }
    for number, name in enumerate(files):
        path = nginx.root / name
        path.write_bytes(b"%d bytes of %s\n" % (number, name.encode()))
        path.chmod(0o644)
    assert nginx.worker_users() == {"www-data"}
    for name, (mime, cache) in files.items():
        body = (nginx.root / name).read_bytes()
        for method in ("GET", "HEAD"):
            status, headers, data = nginx.get(nginx.url(name), method)
            assert (status, headers["Content-Type"], headers["Cache-Control"]) == (200, mime, cache), (name, method)
            assert int(headers["Content-Length"]) == len(body)
            assert data == (body if method == "GET" else b"")
    status, headers, data = nginx.get(nginx.base)  # the folder's URL serves its index.html
    assert status == 200 and data == (nginx.root / "index.html").read_bytes()

    mp3 = f"001-first.{DIGEST}.mp3"
    size = (nginx.root / mp3).stat().st_size
    status, headers, data = nginx.get(nginx.url(mp3), headers={"Range": "bytes=0-1"})
    assert (status, headers["Content-Range"], data) == (206, f"bytes 0-1/{size}", (nginx.root / mp3).read_bytes()[:2])
    assert nginx.get(nginx.url(mp3), "HEAD")[1]["Accept-Ranges"] == "bytes"

    (nginx.root / "secret.mp3").write_bytes(b"x")
    (nginx.root / "secret.mp3").chmod(0o600)  # www-data may not read it: a real host's permissions
    assert nginx.get(nginx.url("secret.mp3"))[0] == 403
    assert nginx.get(nginx.url("missing.mp3"))[0] == 404


def test_nginx_reconfigured_with_extra_server_config_overrides_a_type(nginx: NginxServer) -> None:
    (nginx.root / "a.mp3").write_bytes(b"abc")
    (nginx.root / "a.mp3").chmod(0o644)
    port = nginx.port
    nginx.reconfigure("location ~ \\.mp3$ { types { } default_type text/plain; }")
    assert nginx.port == port
    assert nginx.get(nginx.url("a.mp3"))[1]["Content-Type"] == "text/plain"
    nginx.reconfigure("")
    assert nginx.get(nginx.url("a.mp3"))[1]["Content-Type"] == "audio/mpeg"


def _sftp(server: SSHServer, known_hosts):
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(LOOPBACK, port=server.port, username=server.user, key_filename=str(server.client_key),
                   allow_agent=False, look_for_keys=False, timeout=15, auth_timeout=15, banner_timeout=15)
    return client


def test_sshd_takes_the_test_key_over_sftp_and_paramiko_checks_its_host_key(sshd: SSHServer) -> None:
    client = _sftp(sshd, sshd.known_hosts)
    try:
        sftp = client.open_sftp()
        target = f"{sshd.root}/episode.mp3"
        sftp.putfo(io.BytesIO(b"ID3 some audio"), target + ".tmp")
        sftp.posix_rename(target + ".tmp", target)
        assert (sshd.root / "episode.mp3").read_bytes() == b"ID3 some audio"
        back = io.BytesIO()
        sftp.getfo(target, back)
        assert back.getvalue() == b"ID3 some audio"
        assert sftp.listdir(str(sshd.root)) == ["episode.mp3"]
    finally:
        client.close()
    assert "Accepted publickey" in sshd.log()


def test_sshd_unknown_host_is_refused_with_reject_policy(sshd: SSHServer) -> None:
    import paramiko

    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        _sftp(sshd, sshd.stranger_known_hosts)
    assert list(sshd.root.iterdir()) == []


def test_sshd_home_works_for_openssh_client_and_paramiko_config(sshd: SSHServer, monkeypatch) -> None:
    """The client home (HOME=sshd.home) is complete: ssh reads its config, key and known_hosts from it alone."""
    import os
    import shutil

    import paramiko

    ssh = shutil.which("ssh")
    if ssh is not None:  # openssh-client: the user's own tools see the same server
        run = subprocess.run([ssh, "-F", str(sshd.home / ".ssh" / "config"), "-o", "BatchMode=yes",
                              "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-i", str(sshd.client_key),
                              LOOPBACK, "true"],
                             env=sshd.environ(), capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        run = subprocess.run([ssh, "-F", str(sshd.stranger_home / ".ssh" / "config"), "-o", "BatchMode=yes",
                              "-o", f"UserKnownHostsFile={sshd.stranger_known_hosts}", "-i", str(sshd.client_key),
                              LOOPBACK, "true"],
                             env=sshd.environ(known=False), capture_output=True, text=True, timeout=30)
        assert run.returncode != 0 and "Host key verification failed" in run.stderr
    sshd.use(monkeypatch)
    assert os.path.expanduser("~/.ssh/known_hosts") == str(sshd.known_hosts)
    config = paramiko.SSHConfig.from_path(os.path.expanduser("~/.ssh/config")).lookup(LOOPBACK)
    assert (int(config["port"]), config["user"]) == (sshd.port, sshd.user)
    client = paramiko.SSHClient()
    client.load_host_keys(os.path.expanduser("~/.ssh/known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(LOOPBACK, port=int(config["port"]), username=config["user"],
                   key_filename=os.path.expanduser(config["identityfile"][0]), allow_agent=False, timeout=15)
    client.close()


def test_s3_server_keeps_content_type_and_cache_control(s3: S3Server, monkeypatch) -> None:
    import s3fs

    s3.use(monkeypatch)
    fs = s3fs.S3FileSystem(anon=False, endpoint_url=None)  # AWS_ENDPOINT_URL and the keys from the environment
    key = f"{s3.bucket}/show/001-first.{DIGEST}.mp3"
    fs.pipe_file(key, b"ID3 audio", ContentType="audio/mpeg", CacheControl=LONG_CACHE)
    assert fs.cat_file(key) == b"ID3 audio"
    info = fs.info(key)
    assert info["size"] == len(b"ID3 audio")
    head = s3.client().head_object(Bucket=s3.bucket, Key=key.split("/", 1)[1])
    assert (head["ContentType"], head["CacheControl"]) == ("audio/mpeg", LONG_CACHE)

    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="show/feed.xml", Body=b"<rss/>", ContentType="application/rss+xml",
                      CacheControl=SHORT_CACHE)
    got = client.get_object(Bucket=s3.bucket, Key="show/feed.xml")
    assert (got["Body"].read(), got["ContentType"], got["CacheControl"]) == (b"<rss/>", "application/rss+xml",
                                                                             SHORT_CACHE)
    assert sorted(fs.ls(f"{s3.bucket}/show")) == [f"{s3.bucket}/show/001-first.{DIGEST}.mp3",
                                                  f"{s3.bucket}/show/feed.xml"]
