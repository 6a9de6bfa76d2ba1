"""The ``scale`` commands for people, run as real subprocesses against ``scale up --nodes 3`` with
jobs running, failed and queued: each command's happy path, ``--json`` parsed, an API error as
one clear line and a non-zero exit, ``submit --wait`` ending with the job's final state."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, scale_cmd
from tests.ops.conftest import NODES, SLEEPER
from tests.util import wait_until

pytestmark = pytest.mark.slow

System = tuple[Cluster, dict[str, list[int]]]


def run(
    c: Cluster, *args: str, token: str | None = "default", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``scale ARGS`` with SCALE_URL and SCALE_TOKEN (the cluster's write token unless told)."""
    env = {**c.env, "SCALE_URL": c.base_url, "COLUMNS": "160"}
    env.pop("SCALE_TOKEN", None)
    if token is not None:
        env["SCALE_TOKEN"] = c.token or "" if token == "default" else token
    return subprocess.run(
        scale_cmd(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def ok_json(c: Cluster, *args: str) -> Any:
    done = run(c, *args, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_status_prints_scheduler_nodes_and_totals(system: System) -> None:
    c, _ = system
    done = run(c, "status")
    assert done.returncode == 0, done.stderr
    document = c.wait_status()
    assert "Scheduler Ready" in done.stdout
    for node in document["nodes"]:
        assert node["hostname"] in done.stdout
    assert f"{NODES} nodes" in done.stdout
    assert "Messaging 1/1" in done.stdout
    assert "insufficient mem" in done.stdout  # the queued job's reason
    data = ok_json(c, "status")
    assert len(data["nodes"]) == NODES and data["scheduler"]["state"]["name"] == "READY"


def test_jobs_and_job_show_what_the_api_has(system: System) -> None:
    c, jobs = system
    page = ok_json(c, "jobs", "--status", "FAILED")
    assert page["count"] == 2 and {j["id"] for j in page["results"]} == set(jobs["failed"])
    assert ok_json(c, "jobs", "--job-type-name", "giant")["count"] == 1
    table = run(c, "jobs", "--status", "running")
    assert table.returncode == 0 and all(str(i) in table.stdout for i in jobs["running"])
    assert "2 of 2 jobs" in table.stdout
    detail = ok_json(c, "job", str(jobs["failed"][0]))
    assert detail["job"]["status"] == "FAILED" and detail["job"]["error"]["name"] == "bad-data"
    assert len(detail["executions"]) == 1
    shown = run(c, "job", str(jobs["queued"][0]))
    assert shown.returncode == 0 and "QUEUED" in shown.stdout and "insufficient mem" in shown.stdout


def test_logs_of_an_execution(system: System) -> None:
    c, jobs = system
    exe = ok_json(c, "job", str(jobs["failed"][0]))["executions"][0]
    logs = ok_json(c, "logs", str(exe["id"]))
    assert "sleeping 0s" in logs["text"]
    plain = run(c, "logs", str(exe["id"]), "--stream", "stdout")
    assert plain.returncode == 0 and "sleeping 0s" in plain.stdout


def test_submit_wait_ends_with_the_final_state(system: System) -> None:
    c, _ = system
    done = ok_json(c, "submit", "sleeper", "--input", "SECONDS=0", "--input", "CODE=0", "--wait")
    assert done["status"] == "COMPLETED"
    failed = run(c, "submit", "sleeper:1.0.0", "-i", "SECONDS=0", "-i", "CODE=3", "--wait", "--json")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["status"] == "FAILED"
    human = run(c, "submit", "sleeper", "-i", "SECONDS=0", "-i", "CODE=0", "--wait")
    assert human.returncode == 0, human.stderr
    assert "COMPLETED" in human.stdout
    queued = ok_json(c, "submit", "sleeper", "-i", "SECONDS=1", "-i", "CODE=0")
    assert queued["status"] == "QUEUED"


def test_logs_follow_prints_until_the_execution_ends(system: System) -> None:
    c, _ = system
    job = ok_json(c, "submit", "sleeper", "-i", "SECONDS=4", "-i", "CODE=0")

    def execution() -> Any:
        exes = ok_json(c, "job", str(job["id"]))["executions"]
        return exes[0] if exes else None

    exe = wait_until(execution, timeout=60, interval=0.5, what="the job's execution")
    done = run(c, "logs", str(exe["id"]), "--follow", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "sleeping 4s" in done.stdout
    assert ok_json(c, "job", str(job["id"]))["executions"][0]["ended"] is not None


def test_cancel_and_requeue(system: System) -> None:
    c, jobs = system
    running = jobs["running"][0]
    done = run(c, "cancel", str(running))
    assert done.returncode == 0, done.stderr
    wait_until(
        lambda: c.get(f"/v6/jobs/{running}/").json()["status"] == "CANCELED", timeout=60, what="canceled"
    )
    assert ok_json(c, "requeue", str(jobs["failed"][1]))["accepted"] is True
    wait_until(
        lambda: c.get(f"/v6/jobs/{jobs['failed'][1]}/").json()["status"] != "FAILED",
        timeout=30,
        what="requeued",
    )
    nothing = run(c, "cancel")
    assert nothing.returncode == 1 and nothing.stderr.startswith("error: select jobs:")


def test_job_types_and_register(system: System, tmp_path: Path) -> None:
    c, _ = system
    names = {t["name"] for t in ok_json(c, "job-types")}
    assert {"sleeper", "giant"} <= names
    manifest = json.loads(json.dumps(SLEEPER["manifest"]))
    manifest["job"]["jobVersion"] = "2.0.0"
    path = tmp_path / "seed.manifest.json"
    path.write_text(json.dumps(manifest))
    created = ok_json(c, "job-type", "register", str(path))
    assert created["name"] == "sleeper" and created["version"] == "2.0.0"
    table = run(c, "job-types")
    assert table.returncode == 0 and "2.0.0" in table.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    refused = run(c, "job-type", "register", str(bad))
    assert refused.returncode == 1 and "must hold a JSON object" in refused.stderr


def test_a_bad_token_is_one_clear_line_and_exit_1(system: System) -> None:
    c, _ = system
    node = ok_json(c, "nodes")[0]
    wrong = run(c, "nodes", "pause", str(node["id"]), token="not-a-token")
    assert wrong.returncode == 1
    assert wrong.stdout == ""
    assert wrong.stderr.strip() == "error: 401: Authorization: the token is not valid (unknown or revoked)"
    missing = run(c, "cancel", "1", token=None)
    assert missing.returncode == 1 and missing.stderr.strip().startswith("error: 401: Authorization:")
    assert len(missing.stderr.strip().splitlines()) == 1
    unknown = run(c, "job", "999999")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: 404: job 999999 does not exist"
    unreachable = run(c, "status", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 3 and unreachable.stderr.startswith(
        "error: cannot reach http://127.0.0.1:9"
    )


def test_nodes_pause_resume_and_deprecate(system: System) -> None:
    """Last in the module: deprecating a node changes what the other tests see."""
    c, _ = system
    rows = ok_json(c, "nodes")
    assert len(rows) == NODES and all(r["state"] for r in rows)
    host = rows[1]["hostname"]
    paused = ok_json(c, "nodes", "pause", host, "--reason", "maintenance")
    assert paused["is_paused"] is True and paused["pause_reason"] == "maintenance"
    c.wait_status(
        lambda s: {n["hostname"]: n["state"]["name"] for n in s["nodes"]}[host] == "PAUSED",
        timeout=30,
        what="the node PAUSED",
    )
    listed = run(c, "nodes")
    assert listed.returncode == 0 and "maintenance" in listed.stdout and "PAUSED" in listed.stdout
    assert ok_json(c, "nodes", "resume", str(rows[1]["id"]))["is_paused"] is False
    assert ok_json(c, "nodes", "deprecate", host)["is_active"] is False
    c.wait_status(
        lambda s: {n["hostname"]: n["state"]["name"] for n in s["nodes"]}.get(host) in {"DEPRECATED", None},
        timeout=30,
        what="the node deprecated",
    )
    gone = run(c, "nodes", "pause", "no-such-host")
    assert gone.returncode == 1 and gone.stderr.strip() == "error: node: no node is called 'no-such-host'"
