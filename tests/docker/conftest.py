"""A real Docker engine for the Docker runtime tests (issue 7), started by this test session.

``dockerd`` runs with its own data root, exec root, pid file and unix socket, without touching
the host's firewall or bridge (``--iptables=false --ip6tables=false --bridge=none``); every
container runs with ``--network none``. The test image is made here with ``docker import`` of a
root filesystem holding a static busybox and its applet links; nothing is pulled from a
registry. Everything goes through ``DOCKER_HOST=unix://<our socket>``, never a system engine.

Where no engine can be started (no ``dockerd``, no busybox, not root) the tests skip with the
reason; with ``SCALE_REQUIRE_DOCKER=1`` (CI) they fail instead. At the end the engine is stopped
and no process of it is left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.e2e.conftest import FAST_PERIODS, Cluster, free_port
from tests.util import wait_until

IMAGE = "scale-test:1"
#: An image that is not present and cannot be pulled: nothing listens on port 1.
ABSENT_IMAGE = "127.0.0.1:1/scale-absent:1"
#: Node health checks every 2 s (1 s after a failure) so engine trouble shows at once.
FAST_HEALTH = {"SCALE_PERIOD_HEALTH_CHECK": "2", "SCALE_PERIOD_HEALTH_RETRY": "1"}
#: Timeouts are checked every second rather than every 5 s.
FAST_TIMEOUTS = {"SCALE_PERIOD_TASK_HANDLING": "1"}
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class EngineError(Exception):
    """The engine could not be started."""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("SCALE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SCALE_REQUIRE_DOCKER=1 but no Docker engine: {reason}")
    pytest.skip(f"no Docker engine for the Docker runtime tests: {reason}")


def _process_ids_mentioning(text: str) -> list[int]:
    """Processes whose command line mentions ``text`` (our engine's directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


@dataclass
class Engine:
    """Our own ``dockerd``. ``root`` is short: the socket path must fit a unix socket name."""

    dockerd: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "dockerd.log"

    @property
    def host(self) -> str:
        return f"unix://{self.root / 'd.sock'}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def answers(self) -> bool:
        try:
            return self.docker("info", "--format", "{{.ID}}", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        argv = [
            self.dockerd,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "x"),
            "--pidfile",
            str(self.root / "d.pid"),
            "-H",
            self.host,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EngineError(f"dockerd did not start: {self.log.read_text()[-1500:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Remove every container, stop the engine, and make sure none of its processes is left."""
        if self.running and self.answers():
            ids = self.docker("ps", "-aq").stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids)
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        # containerd and shims it started: ours by their paths under ``root``
        for pid in _process_ids_mentioning(str(self.root)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(
            lambda: not _process_ids_mentioning(str(self.root)),
            timeout=10,
            what="the engine's processes to end",
        )

    def build_image(self, busybox: str) -> None:
        """``scale-test:1``: static busybox with its applets on PATH, and an anonymous volume
        (``/scratch``) so that each container has a volume for cleanup to remove."""
        rootfs = self.root / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "tmp").mkdir()
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout
        for applet in applets.split():
            if applet != "busybox" and "/" not in applet:
                (rootfs / "bin" / applet).symlink_to("busybox")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        done = subprocess.run(
            ["docker", "import", "--change", "ENV PATH=/bin", "--change", "VOLUME /scratch", "-", IMAGE],
            stdin=tar.stdout,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait(30)
        if done.returncode != 0:
            raise EngineError(f"docker import failed: {done.stderr}")
        shutil.rmtree(rootfs)

    def containers(self, *filters: str) -> list[str]:
        args = ["ps", "-a", "--format", "{{.Names}}"]
        for f in filters:
            args += ["--filter", f]
        return self.docker(*args).stdout.split()

    def volumes(self) -> list[str]:
        return self.docker("volume", "ls", "-q").stdout.split()


def _static_busybox() -> str | None:
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file():
            head = Path(candidate).read_bytes()[:4096]
            if b"ld-linux" not in head and b"/lib64/ld" not in head:
                return candidate
    return None


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None)
    if dockerd is None or shutil.which("docker") is None:
        _unavailable("dockerd or the docker CLI is not installed (Debian: docker.io)")
    busybox = _static_busybox()
    if busybox is None:
        _unavailable("no static busybox for the test image (Debian: busybox-static)")
    if os.geteuid() != 0:
        _unavailable("dockerd needs root here")
    root = Path(tempfile.mkdtemp(prefix="sd", dir="/tmp"))
    engine = Engine(dockerd, root)
    try:
        engine.start()
        engine.build_image(busybox)
    except (EngineError, OSError, subprocess.SubprocessError) as exc:
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(str(exc))
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def engine(docker_engine: Engine) -> Engine:
    """The session's engine, running (a test that stopped it may have failed before restarting)."""
    if not docker_engine.running:
        docker_engine.start()
    return docker_engine


def in_docker_body(name: str, command: str, *, image: str = IMAGE) -> dict[str, Any]:
    """A job type body without inputs that runs ``command`` in ``image``."""
    return {
        "docker_image": image,
        "manifest": {
            "seedVersion": "1.0.0",
            "job": {
                "name": name,
                "jobVersion": "1.0.0",
                "packageVersion": "1.0.0",
                "title": name,
                "description": f"Runs {command!r} in {image}",
                "maintainer": {"name": "Tests", "email": "tests@example.com"},
                "timeout": 120,
                "interface": {"command": command},
            },
        },
    }


def _answers(c: Cluster) -> bool:
    for name, proc in c.procs.items():
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{c.log_tail(name)}")
    try:
        return c.anonymous.get("/v6/version/").status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def docker_cluster(data_dir: Path, engine: Engine, *, nodes: int = 2) -> Iterator[Cluster]:
    """``scale up --runtime docker`` against our engine, on SQLite."""
    port = free_port()
    env = {**os.environ, **FAST_PERIODS, **FAST_HEALTH, **FAST_TIMEOUTS, "DOCKER_HOST": engine.host}
    env.pop("SCALE_DATABASE_URL", None)
    env.pop("SCALE_RUNTIME", None)
    c = Cluster(f"http://127.0.0.1:{port}", data_dir, env)
    args = ["--port", str(port), "--data-dir", str(data_dir / "data"), "--nodes", str(nodes)]
    c.start("up", "up", *args, "--runtime", "docker")
    try:
        wait_until(lambda: _answers(c), timeout=60, interval=0.2, what="the API to answer")
        printed = c.printed_tokens("up")
        assert printed, f"scale up printed no API token line:\n{c.log_tail('up')}"
        c.token = printed[0]
        yield c
    finally:
        c.close()
