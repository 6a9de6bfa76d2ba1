"""Scale's own task steps, run as real subprocesses the way a node runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    return subprocess.run(
        [sys.executable, "-m", "scale.taskrunner", *args], cwd=cwd, env=env, check=False
    ).returncode


def test_pre_and_post(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "SCALE_JOB_INPUT": json.dumps({"json": {"A": 1}})}
    assert run("pre", cwd=tmp_path, env=env) == 0
    assert json.loads((tmp_path / "inputs.json").read_text()) == {"json": {"A": 1}}
    (tmp_path / "outputs" / "seed.outputs.json").write_text("{not json")
    assert run("post", cwd=tmp_path) == 5
    (tmp_path / "outputs" / "seed.outputs.json").write_text('{"x": 1}')
    assert run("post", cwd=tmp_path) == 0
    (tmp_path / "results.json").unlink()
    (tmp_path / "results.json").mkdir()
    assert run("post", cwd=tmp_path) == 4


def test_health_reports_low_disk(tmp_path: Path) -> None:
    assert run("health", str(tmp_path), "1") == 0
    assert run("health", str(tmp_path), str(10**12)) == 3


def test_cleanup_keeps_logs_and_running_executions(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name / "logs").mkdir(parents=True)
        (tmp_path / name / "logs" / "main.stdout").write_text("out")
        (tmp_path / name / "outputs").mkdir()
        (tmp_path / name / "inputs.json").write_text("{}")
    assert run("cleanup", str(tmp_path), "--initial", "b") == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["logs"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["inputs.json", "logs", "outputs"]
    assert run("cleanup", str(tmp_path), "b") == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["logs"]
    assert (tmp_path / "b" / "logs" / "main.stdout").read_text() == "out"
    assert run("cleanup", str(tmp_path / "missing"), "--initial") == 0
