"""A real Dask cluster on loopback for the tests: `dask scheduler` and `dask worker` processes started here.

Workers run with `--nthreads 1 --no-nanny` (a killed worker stays dead), `tests/` importable (PYTHONPATH),
and the preload tests/cluster_preload.py, whose environment variables make a worker slow or mismatched.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


def require_dask() -> str:
    """The `dask` command beside this Python; skips locally, fails in CI (the test extra installs Dask)."""
    found = Path(sys.executable).parent / "dask"
    try:
        import distributed  # noqa: F401
    except ImportError:
        found = None
    if found is not None and found.exists():
        return str(found)
    if os.environ.get("NARRATE_CI") == "1":
        pytest.fail("Dask is required in CI (NARRATE_CI=1): pip install -e '.[test]' installs it")
    pytest.skip("Dask is not installed (pip install 'narrate[dask]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DaskCluster:
    """A scheduler and its workers, each a process of its own; `log` holds every piece the workers rendered."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    log: Path
    folder: Path

    def rendered(self) -> list[str]:
        """The texts the workers' fake engines rendered, in order."""
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL one of the cluster's processes and wait for it to end."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        """Workers first (without a scheduler they would wait for it), then the scheduler."""
        for group in (self.workers, [self.scheduler]):
            for process in group:
                if process.poll() is None:
                    process.terminate()
            for process in group:
                try:
                    process.wait(3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def start_cluster(folder: Path, workers: Sequence[Mapping[str, str]] = ({}, {})) -> DaskCluster:
    """Start a scheduler and one worker per mapping (extra environment for that worker); wait until all joined."""
    dask = require_dask()
    import distributed

    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = folder / "rendered.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "NARRATE_FAKE_LOG": str(log)}
    processes: list[subprocess.Popen] = []

    def spawn(args: list[str], name: str, extra: Mapping[str, str]) -> subprocess.Popen:
        out = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - the process writes it as long as it lives
        process = subprocess.Popen([dask, *args], env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=folder, start_new_session=True)
        out.close()
        processes.append(process)
        return process

    scheduler = spawn(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler", {})
    started = [spawn(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                      "--name", f"worker-{i}", "--death-timeout", "10", "--local-directory", str(folder / f"w{i}"),
                      "--preload", "tests.cluster_preload"], f"worker-{i}", extra)
               for i, extra in enumerate(workers)]
    cluster = DaskCluster(address, scheduler, started, log, folder)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client = distributed.Client(address, timeout=5, set_as_default=False)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or scheduler.poll() is not None:
                    raise
        try:
            client.wait_for_workers(len(started), timeout=START_TIMEOUT)
        finally:
            client.close()
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in folder.glob("*.log"))
        raise RuntimeError(f"the Dask cluster did not start:\n{logs}") from None
    return cluster

