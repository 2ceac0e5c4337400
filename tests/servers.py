"""Real servers on loopback for tests: nginx (as its own user), OpenSSH's sshd with SFTP, and moto's S3 server.

Each is a pytest fixture (`nginx`, `sshd`, `s3`) and a class a test can also start itself (`NginxServer`,
`SSHServer`, `S3Server`). Every one listens on a free 127.0.0.1 port, keeps its configuration, keys and logs in
its own temporary folder, and is stopped (and that folder removed) when the test ends. A missing system tool
skips the test locally and fails it under NARRATE_CI=1 (`require_tool`), since CI installs them all.

    from tests.servers import nginx, sshd, s3   # the fixtures; use them as arguments
    from tests.servers import NginxServer, SSHServer, S3Server
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from narrate.fsutil import HASH_DIGITS
from tests.conftest import require_tool

LOOPBACK = "127.0.0.1"
NGINX_USER = "www-data"
#: Content-Type by file name ending, as a web host for a show should send them. The chapters JSON is matched
#: before the plain `.json`; the feed is `application/rss+xml` by its `.xml` ending.
NGINX_TYPES: Mapping[str, str] = {
    ".mp3": "audio/mpeg", ".m4a": "audio/x-m4a", ".xml": "application/rss+xml", ".rss": "application/rss+xml",
    ".vtt": "text/vtt", ".srt": "application/x-subrip", ".json": "application/json", ".html": "text/html",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".txt": "text/plain",
}
CHAPTERS_TYPE = "application/json+chapters"
#: Cache-Control for the feed, pages and anything not named by its content: short, so a new episode shows soon.
SHORT_CACHE = "public, max-age=300"
#: Cache-Control for content-named files (`001-first.3f2a9c0d1e.mp3`; narrate.publish.CONTENT_NAME_RE): their bytes
#: never change under that name.
LONG_CACHE = "public, max-age=31536000, immutable"
#: nginx's spelling of narrate.publish.CONTENT_NAME_RE's `.<digest><suffix>` ending.
CONTENT_NAMED = rf"\.[0-9a-f]{{{HASH_DIGITS}}}(?:\.chapters\.json|\.[A-Za-z0-9]+)$"


def need(condition: bool, why: str) -> None:
    """Like `require_tool` for a condition that is not a tool: skip locally, fail under NARRATE_CI=1."""
    if condition:
        return
    if os.environ.get("NARRATE_CI") == "1":
        pytest.fail(f"{why} (NARRATE_CI=1: CI must provide it)")
    pytest.skip(why)


def _sbin(name: str) -> str | None:
    """A daemon's path: on PATH, else in /usr/sbin (often not on a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    return os.path.abspath(found) if found else None


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str, log: Path | None = None,
                   timeout: float = 20.0) -> None:
    """Return once `port` accepts connections; fail with the server's own words if it exits first or never does."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            said = log.read_text(errors="replace") if log is not None and log.exists() else ""
            raise AssertionError(f"{what} exited with status {process.returncode} before listening: {said.strip()}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server we started, then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def http(url: str, method: str = "GET", headers: Mapping[str, str] | None = None,
         timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# --- nginx ----------------------------------------------------------------------------------------------------

def nginx_binary() -> str:
    """nginx's path, and the conditions to run its workers as www-data (root, the user exists)."""
    binary = require_tool("nginx", _sbin)
    need(os.geteuid() == 0, f"nginx must start as root to run its workers as {NGINX_USER}")
    try:
        pwd.getpwnam(NGINX_USER)
    except KeyError:
        need(False, f"there is no {NGINX_USER} user for nginx to run as (Debian's nginx package makes it)")
    return binary


def nginx_config(root: Path, conf_dir: Path, port: int, extra: str = "", tls: bool = False) -> str:
    """An nginx.conf serving `root` on 127.0.0.1:`port` with a podcast host's types and caching headers.

    `extra` goes into the server block before narrate's own locations: a regex location there wins over them
    (a test serving files with the wrong type, or refusing ranges, says so there). With `tls`, it serves
    HTTPS with `cert.pem` and `key.pem` from `conf_dir`.
    """
    types = "\n".join(f"    {mime} {suffix[1:]};" for suffix, mime in NGINX_TYPES.items())
    return f"""\
daemon off;
user {NGINX_USER};
worker_processes 1;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log {conf_dir}/access.log;
  client_body_temp_path {conf_dir}/body;
  proxy_temp_path {conf_dir}/proxy;
  fastcgi_temp_path {conf_dir}/fastcgi;
  uwsgi_temp_path {conf_dir}/uwsgi;
  scgi_temp_path {conf_dir}/scgi;
  sendfile on;
  types {{
{types}
  }}
  default_type application/octet-stream;
  server {{
    listen {LOOPBACK}:{port}{" ssl" if tls else ""};
{f"    ssl_certificate {conf_dir}/cert.pem;{chr(10)}    ssl_certificate_key {conf_dir}/key.pem;" if tls else ""}
    root {root};
    index index.html;
{extra}
    location ~ "{CONTENT_NAMED}" {{
      add_header Cache-Control "{LONG_CACHE}";
      location ~ \\.chapters\\.json$ {{
        types {{ }}
        default_type {CHAPTERS_TYPE};
        add_header Cache-Control "{LONG_CACHE}";
      }}
    }}
    location ~ \\.chapters\\.json$ {{
      types {{ }}
      default_type {CHAPTERS_TYPE};
      add_header Cache-Control "{SHORT_CACHE}";
    }}
    location / {{
      add_header Cache-Control "{SHORT_CACHE}";
    }}
  }}
}}
"""


@dataclass
class NginxServer:
    """A real nginx serving `root` on a free loopback port, its workers running as www-data.

    What nginx can read is decided by the files' modes alone: `root` is made world-traversable (0755), and
    everything in it must be readable by www-data, exactly as on a real host.
    """

    root: Path
    extra: str = ""
    port: int = field(default_factory=free_port)
    conf_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="narrate-nginx-conf-", dir="/tmp")))
    process: subprocess.Popen | None = None
    #: Serve HTTPS with a self-signed certificate for 127.0.0.1 (`cert`: trust it with SSL_CERT_FILE).
    tls: bool = False

    @property
    def base(self) -> str:
        """`http://127.0.0.1:PORT/` (`https://` with tls)."""
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}/"

    @property
    def cert(self) -> Path:
        """The self-signed certificate nginx serves with tls (PEM)."""
        return self.conf_dir / "cert.pem"

    @property
    def logs(self) -> Path:
        return self.conf_dir

    def url(self, path: str = "") -> str:
        """The URL of a path under the served root."""
        return self.base + path.lstrip("/")

    def start(self) -> NginxServer:
        binary = nginx_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        conf = self.conf_dir / "nginx.conf"
        if self.tls and not self.cert.exists():
            openssl = require_tool("openssl")
            subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", f"/CN={LOOPBACK}", "-addext", f"subjectAltName=IP:{LOOPBACK}",
                            "-keyout", str(self.conf_dir / "key.pem"), "-out", str(self.cert)],
                           check=True, stdin=subprocess.DEVNULL, capture_output=True)
        conf.write_text(nginx_config(self.root, self.conf_dir, self.port, self.extra, self.tls))
        log = self.conf_dir / "error.log"
        self.process = subprocess.Popen([binary, "-p", str(self.conf_dir), "-c", str(conf), "-e", str(log)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.process, "nginx", log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def reconfigure(self, extra: str) -> None:
        """Restart on the same port with other `extra` server-block configuration (`""` for none)."""
        self.stop()
        self.extra = extra
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.conf_dir, ignore_errors=True)

    def get(self, url: str, method: str = "GET", headers: Mapping[str, str] | None = None,
            ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); an error status is returned, not raised."""
        return http(url, method, headers)

    def worker_users(self) -> set[str]:
        """The users nginx's worker processes (children of the master) run as."""
        assert self.process is not None
        users = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    users.add(pwd.getpwuid((proc / "status").stat().st_uid).pw_name)
            except (OSError, IndexError, ValueError, KeyError):
                continue
        return users


@pytest.fixture
def nginx() -> Iterator[NginxServer]:
    """nginx serving a fresh, empty, world-traversable folder in /tmp (`nginx.root`); write the site there.

    The folder is in /tmp because pytest's own temporary folders may be 0700, which www-data could not enter.
    """
    root = Path(tempfile.mkdtemp(prefix="narrate-nginx-site-", dir="/tmp"))
    server = NginxServer(root)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


# --- OpenSSH --------------------------------------------------------------------------------------------------

def _keygen(path: Path, comment: str) -> str:
    """Make an ed25519 key pair at `path` (no passphrase); returns the public key line."""
    keygen = require_tool("ssh-keygen")
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path.with_name(path.name + ".pub").read_text().strip()


@dataclass
class SSHServer:
    """OpenSSH's sshd on a free loopback port, with SFTP (internal-sftp), key-only login as the current user.

    In `dir`: the host key, `authorized_keys` holding the client key (`client_key`, made here), and two client
    homes: `home` (with ~/.ssh/id_ed25519, known_hosts naming this server's host key for `[127.0.0.1]:PORT`, and
    a config), and `stranger_home` (the same key, but a known_hosts that does not know this server).
    `root` is an empty folder to upload into (world-readable, so nginx may serve it too).
    As root (CI) it logs in as root: StrictModes is off and no chroot is set, so temporary folders work.
    """

    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="narrate-sshd-", dir="/tmp")))
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=lambda: pwd.getpwuid(os.geteuid()).pw_name)
    process: subprocess.Popen | None = None
    host_public_key: str = ""

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def home(self) -> Path:
        """A HOME for a client the server knows: ~/.ssh/{id_ed25519, known_hosts, config}."""
        return self.dir / "home"

    @property
    def stranger_home(self) -> Path:
        """A HOME whose known_hosts has no entry for this server (an unknown host must be refused)."""
        return self.dir / "stranger"

    @property
    def client_key(self) -> Path:
        return self.home / ".ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.home / ".ssh" / "known_hosts"

    @property
    def stranger_known_hosts(self) -> Path:
        return self.stranger_home / ".ssh" / "known_hosts"

    @property
    def root(self) -> Path:
        """An empty folder on the server to publish into."""
        return self.dir / "remote"

    @property
    def host_pattern(self) -> str:
        """The known_hosts name of this server: `[127.0.0.1]:PORT`."""
        return f"[{LOOPBACK}]:{self.port}"

    def url(self, path: str | Path | None = None) -> str:
        """`sftp://USER@127.0.0.1:PORT/ABSOLUTE/PATH` (default: `root`)."""
        target = str(path if path is not None else self.root)
        return f"sftp://{self.user}@{LOOPBACK}:{self.port}/{target.lstrip('/')}"

    def environ(self, known: bool = True) -> dict[str, str]:
        """The variables a client process needs: HOME (known or stranger), no agent (only the test's key)."""
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}
        env["HOME"] = str(self.home if known else self.stranger_home)
        return env

    def use(self, monkeypatch: pytest.MonkeyPatch, known: bool = True) -> None:
        """Make this process a client of this server: HOME set, the agent hidden (paramiko reads ~ from HOME)."""
        monkeypatch.setenv("HOME", str(self.home if known else self.stranger_home))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        monkeypatch.delenv("SSH_AGENT_PID", raising=False)

    def _write_homes(self, client_public: str) -> None:
        (self.dir / "authorized_keys").write_text(client_public + "\n")
        config = (f"Host {LOOPBACK}\n  Port {self.port}\n  User {self.user}\n  IdentityFile ~/.ssh/id_ed25519\n"
                  "  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n")
        stranger = self.stranger_home / ".ssh"
        stranger.mkdir(parents=True, mode=0o700)
        shutil.copy2(self.client_key, stranger / "id_ed25519")
        shutil.copy2(self.client_key.with_suffix(".pub"), stranger / "id_ed25519.pub")
        other = _keygen(self.dir / "other_host_key", "another host")  # a known_hosts that knows someone else
        self.stranger_known_hosts.write_text(f"[{LOOPBACK}]:{free_port()} {' '.join(other.split()[:2])}\n")
        (stranger / "config").write_text(config)
        self.known_hosts.write_text(f"{self.host_pattern} {' '.join(self.host_public_key.split()[:2])}\n")
        (self.home / ".ssh" / "config").write_text(config)

    def start(self) -> SSHServer:
        sshd = require_tool("sshd", _sbin)  # absolute: sshd re-executes itself and insists on it
        self.dir.chmod(0o755)
        self.host_public_key = _keygen(self.host_key, "narrate test host")
        (self.home / ".ssh").mkdir(parents=True, mode=0o700)
        client_public = _keygen(self.client_key, "narrate test client")
        self._write_homes(client_public)
        self.root.mkdir(mode=0o755)
        if os.geteuid() == 0:
            # Debian's sshd wants its privilege-separation folder, which its service unit would make.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self.dir / "sshd_config"
        config.write_text(f"""\
Port {self.port}
ListenAddress {LOOPBACK}
HostKey {self.host_key}
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile {self.dir}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {self.user}
UsePAM no
UseDNS no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
""")
        log = self.dir / "sshd.log"
        self.process = subprocess.Popen([sshd, "-D", "-f", str(config), "-E", str(log)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.process, "sshd", log)
        return self

    def log(self) -> str:
        path = self.dir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sshd() -> Iterator[SSHServer]:
    """OpenSSH sshd with SFTP on a loopback port; `sshd.use(monkeypatch)` makes the test its known client."""
    server = SSHServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


# --- S3 (moto's server mode) ----------------------------------------------------------------------------------

@dataclass
class S3Server:
    """moto's S3-compatible server, in its own process on a loopback port, with one bucket made.

    `environ` holds the AWS_* variables a client needs (fake credentials, AWS_ENDPOINT_URL, region).
    """

    bucket: str = "narrate-test"
    region: str = "us-east-1"
    port: int = field(default_factory=free_port)
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="narrate-moto-", dir="/tmp")))
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION (and AWS_REGION)."""
        return {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}

    def url(self, prefix: str = "") -> str:
        """`s3://BUCKET/PREFIX`."""
        return f"s3://{self.bucket}/{prefix.lstrip('/')}"

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make this process a client: the AWS_* variables set, any profile or config file of the user's hidden."""
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(self.dir / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(self.dir / "no-credentials"))
        for name, value in self.environ.items():
            monkeypatch.setenv(name, value)

    def client(self):
        """A boto3 S3 client for this server (to look at what was stored)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.environ["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.environ["AWS_SECRET_ACCESS_KEY"])

    def start(self) -> S3Server:
        try:
            import moto.server  # noqa: F401  (moto[server]: the test extra)
        except ImportError as exc:
            pytest.fail(f"moto[server] is missing ({exc}); install the test extra: pip install -e '.[test]'")
        log = self.dir / "moto.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.process, "moto_server", log, timeout=60)
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def close(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def s3() -> Iterator[S3Server]:
    """moto's S3 server on loopback with bucket `s3.bucket`; `s3.use(monkeypatch)` sets the AWS_* variables."""
    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.close()
