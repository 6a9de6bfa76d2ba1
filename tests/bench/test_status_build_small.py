"""Correctness of the status-build benchmark at a small size (no timing assertions): the
snapshot it measures lists every simulated node and every running execution, and the script
ends with a RESULT line a script can parse. The sim backend is a simulation."""

from __future__ import annotations

import json

import pytest
from bench.status_build import loaded_scheduler, main, measure, run_size

from scale.store.db import Database

NODES = 10
RUNNING = 100
FINISHED = 50


def test_the_measured_status_lists_every_node_and_execution(db: Database) -> None:
    scheduler, clock = loaded_scheduler(db, nodes=NODES, running=RUNNING, finished=FINISHED)

    timings = measure(scheduler, clock, repeats=2)
    status, body = timings.status, timings.body

    assert timings.build_ms >= 0 and timings.serialize_ms >= 0 and timings.tick_ms >= 0
    assert [n["hostname"] for n in status["nodes"]] == [f"sim-node-{i:04d}" for i in range(1, NODES + 1)]
    assert sum(n["job_executions"]["running"]["total"] for n in status["nodes"]) == RUNNING
    assert sum(n["job_executions"]["completed"]["total"] for n in status["nodes"]) == FINISHED
    assert json.loads(body) == status


def test_run_size_counts_bytes_of_the_serialized_snapshot() -> None:
    result = run_size(nodes=NODES, running=RUNNING, finished=0, repeats=1)

    assert result.nodes_in_status == NODES
    assert result.running_in_status == RUNNING
    assert result.bytes == len(json.dumps(result.status).encode())


def test_the_script_ends_with_a_result_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", str(NODES), "--running", str(RUNNING), "--finished", "0", "--repeats", "1"]) == 0

    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    fields = dict(item.split("=", 1) for item in last.split()[1:])
    assert int(fields["nodes"]) == NODES
    assert float(fields["build_ms"]) >= 0
    assert int(fields["bytes"]) > 0
