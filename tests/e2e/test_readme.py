"""The README is a test (issue 13): a fresh clone, the server started as the README's first
command starts it (no ``--data-dir``, from the clone's root), the "A first job" block taken
from README.md at test time and run with the printed token, the job ending as the README says,
then Ctrl-C and no process left."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import FAST_PERIODS, TOKEN_LINE, free_port, scale_cmd
from tests.util import wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README_PORT = 8000


def first_job_block(readme: str) -> str:
    """The first ```bash block of the README's "A first job" section."""
    section = readme.split("\n## A first job", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's 'A first job' has no ```bash block"
    return match.group(1)


def test_the_first_job_block_is_where_the_test_looks_for_it() -> None:
    block = first_job_block((REPO / "README.md").read_text())
    assert block.startswith("TOKEN=...") and "/v6/jobs/" in block


def processes_under(root: Path) -> list[str]:
    """Live processes (not zombies) whose working directory or command line is inside ``root``."""
    found = []
    needle = str(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and (cwd.startswith(needle) or needle in cmdline):
            found.append(f"{entry.name}: {cmdline} (cwd {cwd})")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v6/version/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_readme_first_job_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    readme = (clone / "README.md").read_text()
    assert "make run" in readme.split("\n## ", 1)[0]
    block = first_job_block(readme)
    # ``make run`` is ``scale up`` in the clone's environment, with no flags. Where port 8000 is
    # taken on this machine the README's port is swapped for a free one, in the command and the
    # block alike; nothing else is changed.
    args = ["up"]
    port = README_PORT
    if not _port_free(README_PORT):
        port = free_port()
        args += ["--port", str(port)]
        block = block.replace(f"localhost:{README_PORT}", f"localhost:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_")}
    env.update(FAST_PERIODS)
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        scale_cmd(*args), cwd=clone, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        token = wait_until(
            lambda: (m := TOKEN_LINE.search(log.read_text())) and m.group(1), timeout=60, what="the token"
        )
        wait_until(lambda: _answers(port), timeout=60, what="the API to answer")
        printed = log.read_text()
        assert f"Data: {clone.resolve() / '.scale'}" in printed, printed
        run = block.replace("TOKEN=...", f"TOKEN={token}", 1)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", run], cwd=clone, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr + log.read_text()
        assert '"status": "QUEUED"' in done.stdout or '"id": 1' in done.stdout, done.stdout

        def job() -> dict[str, Any] | None:
            body: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/v6/jobs/1/", timeout=10).json()
            return body if body["status"] in ("FAILED", "COMPLETED", "CANCELED") else None

        final = wait_until(job, timeout=90, interval=0.5, what="the README's job to end")
        # As the README says: FAILED with the error bad-data, category data, counted on its node.
        assert final["status"] == "FAILED", final
        assert final["error"]["name"] == "bad-data" and final["error"]["category"] == "DATA", final

        def counted() -> bool:
            r = httpx.get(f"http://127.0.0.1:{port}/v6/status/", timeout=10)
            nodes = r.json()["nodes"] if r.status_code == 200 else []
            return sum(n["job_executions"]["failed"]["data"]["total"] for n in nodes) == 1

        wait_until(counted, timeout=30, interval=0.5, what="the status to count the data failure")
        assert (clone / ".scale" / "scale.db").exists()
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        code = up.wait(60)
    assert code == 0, log.read_text()[-3000:]
    wait_until(lambda: not processes_under(clone), timeout=15, what="no process of the clone left")
