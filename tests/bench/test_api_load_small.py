"""Correctness of the API load benchmark at a small size (no timing assertions): the system it
starts in subprocesses (one, as ``scale up``, or ``scale api`` + ``scale scheduler``) answers
200 on every load, each connection's first body is valid JSON (gzip-wrapped exactly when gzip
was asked for), the jobs list has at least a page of rows, and the RESULT line parses. The
scheduler runs on the sim backend, a simulation."""

from __future__ import annotations

import pytest
from bench.api_load import JOBS_PATH, STATUS_PATH, TOPOLOGIES, run_load


@pytest.mark.timeout(180)
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_a_short_run_gets_only_200s_and_a_parsable_result_line(topology: str) -> None:
    result = run_load(clients=2, seconds=2, nodes=10, jobs=150, settled=False, topology=topology)

    assert result.job_rows == 150
    assert result.status_identity is not None
    loads = ((result.status, STATUS_PATH), (result.status_identity, STATUS_PATH), (result.jobs, JOBS_PATH))
    for load, path in loads:
        assert load.path == path
        assert load.requests > 0
        assert load.errors == 0
        assert set(load.statuses) == {200}
        assert len(load.latencies_ms) == load.requests
    assert result.status.gzip and not result.status_identity.gzip
    # The gzip copy is smaller per response than the JSON itself.
    assert (
        0
        < result.status.bytes / result.status.requests
        < result.status_identity.bytes / result.status_identity.requests
    )
    line = result.result_line()
    assert line.startswith("RESULT ")
    fields = {key: float(value) for key, value in (item.split("=", 1) for item in line.split()[1:])}
    expected = {
        "status_rps",
        "status_p99_ms",
        "jobs_rps",
        "jobs_p99_ms",
        "status_identity_rps",
        "status_identity_p99_ms",
    }
    assert expected <= fields.keys()
    assert fields["status_rps"] > 0 and fields["jobs_rps"] > 0 and fields["status_identity_rps"] > 0
