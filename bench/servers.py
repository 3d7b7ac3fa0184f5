"""What the benchmarks (and the live-server tests) share to run the project against PostgreSQL and Redis:
a fresh database, the environment a process of the project runs in, and a uvicorn server.

    servers.fresh_database(PG, DB_NAME, env)               # dropped, created, migrated
    server = servers.Server(env, workers=2).start()        # on a free port, once it answers
    ...
    server.stop()

Standard library only: the tests import it too (``tests.test_live_servers.Server``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_PATH = "/graphql?query=%7B__typename%7D"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_env(database_url: str, redis_url: str, *, root: Path = ROOT, **extra: str) -> dict[str, str]:
    """The environment of a process of the project (``root``) on this database and Redis:
    this process's own, the project's settings, and ``extra``."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "electionsite.settings",
        "PYTHONPATH": str(root),
        **extra,
    }


def fresh_database(pg: str, name: str, env: Mapping[str, str], *, root: Path = ROOT) -> None:
    """Drop and create the database ``name`` on the server ``pg`` (``postgres://user@host:port``),
    then migrate it with ``env`` (``django_env``)."""
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", f"{pg}/postgres", "-qc", sql], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=root, env=dict(env))


class Server:
    """One uvicorn process serving ``electionsite.asgi`` in ``env`` (``django_env``), as bin/serve runs
    it (per-message deflate off), on ``port`` (a free one by default).

    ``workers``: uvicorn's ``--workers`` (the server then runs in a process group of its own, stopped
    whole); ``options``: more of uvicorn's options. ``capture``: what the server says goes to a file
    (``output()``) rather than to this process's terminal, so a pipe nobody reads cannot stall it.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        workers: int | None = None,
        options: Sequence[str] = (),
        root: Path = ROOT,
        capture: bool = False,
    ) -> None:
        self.env, self.workers, self.options, self.root = dict(env), workers, tuple(options), root
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile() if capture else None  # noqa: SIM115 (closed with the object)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self, ready_path: str = READY_PATH, *, timeout: float = 30) -> Server:
        """Start it, and return once it answers ``ready_path`` (any HTTP status will do)."""
        command = [sys.executable, "-m", "uvicorn", "electionsite.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        command += ["--ws-per-message-deflate", "false"]  # off, as bin/serve and bin/demo
        if self.workers:
            command += ["--workers", str(self.workers)]
        self.process = subprocess.Popen(
            [*command, *self.options],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL if self.log else None,
            stderr=self.log,
            start_new_session=bool(self.workers),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited: {self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}{ready_path}", timeout=5) as response:
                    response.read()
                return self
            except urllib.error.HTTPError:
                return self  # it answers (e.g. 401 when keys are required)
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.port} did not start in {timeout:g} s: {self.output()}")

    def output(self) -> str:
        """What it said (with ``capture``)."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def _signal(self, sig: int) -> None:
        try:
            if self.workers:
                os.killpg(self.process.pid, sig)  # the master and its workers
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass  # already gone

    def _running(self) -> bool:
        # A process group may outlive its master: it is signalled all the same.
        return self.process is not None and (self.process.poll() is None or bool(self.workers))

    def kill(self) -> None:
        """SIGKILL: no goodbye."""
        if self._running():
            self._signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
        if self._running():
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
