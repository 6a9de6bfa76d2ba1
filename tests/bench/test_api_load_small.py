"""Correctness of the API load benchmark at a small size (no timing assertions): the system it
starts in a subprocess answers 200 on both endpoints, the jobs list has at least a page of rows,
and the RESULT line parses. The scheduler runs on the sim backend, a simulation."""

from __future__ import annotations

import pytest
from bench.api_load import JOBS_PATH, STATUS_PATH, run_load


@pytest.mark.timeout(120)
def test_a_short_run_gets_only_200s_and_a_parsable_result_line() -> None:
    result = run_load(clients=2, seconds=2, nodes=10, jobs=150, settled=False)

    assert result.job_rows == 150
    for load, path in ((result.status, STATUS_PATH), (result.jobs, JOBS_PATH)):
        assert load.path == path
        assert load.requests > 0
        assert load.errors == 0
        assert set(load.statuses) == {200}
        assert len(load.latencies_ms) == load.requests
    assert result.status.bytes > 0
    line = result.result_line()
    assert line.startswith("RESULT ")
    fields = {key: float(value) for key, value in (item.split("=", 1) for item in line.split()[1:])}
    assert {"status_rps", "status_p99_ms", "jobs_rps", "jobs_p99_ms"} <= fields.keys()
    assert fields["status_rps"] > 0 and fields["jobs_rps"] > 0
