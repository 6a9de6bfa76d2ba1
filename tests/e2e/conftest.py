"""Real processes on loopback: ``scale up`` (SQLite) or ``scale api`` + ``scale scheduler``
(PostgreSQL), talked to over HTTP. Every wait is on a condition with a timeout."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, _pg_available
from tests.util import wait_until

FAST_PERIODS = {
    "SCALE_PERIOD_SCHEDULING": "0.5",
    "SCALE_PERIOD_SYNC": "2",
    "SCALE_PERIOD_MESSAGING": "0.5",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scale_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "scale", *args]


#: The line ``scale up`` prints its write token on.
TOKEN_LINE = re.compile(r"^API token: (\S+)$", re.MULTILINE)


@dataclass
class Cluster:
    """A running system and an HTTP client for it; the client sends ``token`` (a write token)."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    token: str | None = None

    @property
    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.base_url, timeout=10, headers=headers)

    @property
    def anonymous(self) -> httpx.Client:
        """A client that sends no token."""
        return httpx.Client(base_url=self.base_url, timeout=10)

    def create_token(self, *extra: str) -> str:
        """``scale token create`` on this cluster's database; the token it prints."""
        done = subprocess.run(
            scale_cmd("token", "create", "--data-dir", str(self.data_dir / "data"), *extra),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def printed_tokens(self, name: str) -> list[str]:
        """The tokens process ``name`` (``scale up``) printed on its ``API token:`` lines."""
        path = self.logs.get(name)
        return TOKEN_LINE.findall(path.read_text()) if path and path.exists() else []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.data_dir / f"{name}.log"
        self.logs[name] = log
        proc = subprocess.Popen(
            scale_cmd(*args),
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise AssertionError(f"{name} did not stop within {timeout}s:\n{self.log_tail(name)}") from None

    def log_tail(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text()[-4000:] if path and path.exists() else ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client as c:
            return c.get(path, **kwargs)

    def post(self, path: str, body: Any) -> httpx.Response:
        with self.client as c:
            return c.post(path, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        with self.client as c:
            return c.patch(path, json=body)

    def status(self) -> dict[str, Any] | None:
        try:
            r = self.get("/v6/status/")
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    def wait_status(
        self, predicate: Any = lambda s: True, timeout: float = 30, what: str = "status"
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            s = self.status()
            return s if s is not None and predicate(s) else None

        result: dict[str, Any] = wait_until(check, timeout=timeout, interval=0.2, what=what)
        return result

    def close(self) -> None:
        for name in list(self.procs):
            try:
                self.stop(name)
            except AssertionError:
                pass


def _pg_url_for_test() -> Iterator[str]:
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"scale_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running_cluster(tmp_path: Path, db_kind: str, *, split: bool) -> Iterator[Cluster]:
    """Two local nodes: ``scale up --nodes 2``, or ``scale api`` + ``scale scheduler`` (split)."""
    port = free_port()
    env = {**os.environ, **FAST_PERIODS}
    env.pop("SCALE_DATABASE_URL", None)
    c = Cluster(f"http://127.0.0.1:{port}", tmp_path, env)
    pg = _pg_url_for_test() if db_kind == "postgresql" else None
    if pg is not None:
        env["SCALE_DATABASE_URL"] = next(pg)
    data = str(tmp_path / "data")
    if split:
        # The token first: creating it also brings the new database up to date.
        c.token = c.create_token("--name", "e2e")
        c.start("scheduler", "scheduler", "--data-dir", data, "--nodes", "2")
        c.start("api", "api", "--port", str(port), "--data-dir", data)
    else:
        c.start("up", "up", "--port", str(port), "--data-dir", data, "--nodes", "2")
    try:
        wait_until(lambda: _answers(c), timeout=30, what="the API to answer")
        if not split:
            # Printed before the API serves, so it is in the log by now.
            printed = c.printed_tokens("up")
            assert printed, f"scale up printed no API token line:\n{c.log_tail('up')}"
            c.token = printed[0]
        yield c
    finally:
        c.close()
        if pg is not None:
            next(pg, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """``scale up`` on SQLite; on PostgreSQL ``scale up`` has no embedded database, so the API
    and the scheduler run as two processes sharing it."""
    with running_cluster(tmp_path, request.param, split=request.param == "postgresql") as c:
        yield c


@pytest.fixture(params=["sqlite", "postgresql"])
def split_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """``scale api`` and ``scale scheduler`` as separate processes on one database."""
    with running_cluster(tmp_path, request.param, split=True) as c:
        yield c


def _answers(c: Cluster) -> bool:
    for name, proc in c.procs.items():
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{c.log_tail(name)}")
    try:
        return c.get("/v6/version/").status_code == 200
    except httpx.HTTPError:
        time.sleep(0.1)
        return False
