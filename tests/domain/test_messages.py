"""The command messages' wire form: every type round-trips, and ``decode`` is strict.

A sender and its handler share one class per message type (``domain.messages``), so these
tests are about the JSON between them: what a sender writes comes back equal, and what no
sender writes (a wrong type, a missing or unknown field, a time without its offset) is refused
with the field named, never read with a default.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scale.domain import messages as mt
from scale.exceptions import InvalidMessage, ScaleError

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

EXAMPLES: list[mt.CommandMessage] = [
    mt.RunningJobs((mt.RunningJob(1, 1, 3, T0), mt.RunningJob(2, 0))),
    mt.CompletedJobs((mt.CompletedJob(1, 1, 3, T0, {"files": [1]}), mt.CompletedJob(2, 2))),
    mt.FailedJobs((mt.FailedJob(1, 1, 3, T0, 7), mt.FailedJob(2, 1, None, None, None))),
    mt.CreateJobExeEnds(
        (
            mt.JobExeEnd(
                job_exe_id=9,
                job_id=1,
                exe_num=1,
                job_type_id=4,
                status="FAILED",
                node_id=3,
                error_id=7,
                error_category="SYSTEM",
                exit_code=-9,
                task_results=({"task_id": "t", "type": "main"},),
                started=T0,
                ended=T0 + timedelta(seconds=5),
            ),
            mt.JobExeEnd(10, 2, 1, 4, "COMPLETED"),
        )
    ),
    mt.RestartScheduler(T0.astimezone(timezone(timedelta(hours=2)))),
    mt.RestartScheduler(),
    mt.RunningJobs(()),
]


def test_there_is_one_class_per_message_type() -> None:
    assert set(mt.MESSAGE_CLASSES) == {
        "running_jobs",
        "completed_jobs",
        "failed_jobs",
        "create_job_exe_ends",
        "restart_scheduler",
    }
    assert {type(m).TYPE for m in EXAMPLES} == mt.MESSAGE_TYPES


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_comes_back_equal_through_its_json(message: mt.CommandMessage) -> None:
    type_, body = mt.encode(message)
    assert mt.decode(type_, json.dumps(body).encode()) == message


def test_an_invalid_message_is_a_scale_error() -> None:
    assert issubclass(InvalidMessage, ScaleError)


#: (type, body text, the start of the reason)
REFUSED: list[tuple[str, str, str]] = [
    ("running_jobs", "", "body: not JSON"),
    ("running_jobs", '{"jobs": [}', "body: not JSON"),
    ("running_jobs", '{"jobs": [], "jobs": Infinity}', "body: not JSON: Infinity is not JSON"),
    ("running_jobs", '"jobs"', "body: expected an object, got string"),
    ("running_jobs", "{}", "jobs: required"),
    ("running_jobs", '{"jobs": null}', "jobs: expected an array, got null"),
    ("running_jobs", '{"jobs": [7]}', "jobs[0]: expected an object, got number"),
    ("running_jobs", '{"jobs": [{"job_id": 1.0, "exe_num": 1}]}', "jobs[0].job_id: expected an id"),
    ("running_jobs", '{"jobs": [{"job_id": 0, "exe_num": 1}]}', "jobs[0].job_id: expected an id"),
    ("running_jobs", '{"jobs": [{"job_id": 1, "exe_num": -1}]}', "jobs[0].exe_num: expected an integer ≥ 0"),
    ("running_jobs", '{"jobs": [{"job_id": 1, "exe_num": 1, "node": 2}]}', "jobs[0]: unknown field 'node'"),
    (
        "running_jobs",
        '{"jobs": [{"job_id": 1, "exe_num": 1, "node_id": "2"}]}',
        "jobs[0].node_id: expected an id",
    ),
    (
        "running_jobs",
        '{"jobs": [{"job_id": 1, "exe_num": 1, "started": 5}]}',
        "jobs[0].started: expected an ISO",
    ),
    (
        "completed_jobs",
        '{"jobs": [{"job_id": 1, "exe_num": 1, "output": []}]}',
        "jobs[0].output: expected an object",
    ),
    (
        "failed_jobs",
        '{"jobs": [{"job_id": 1, "exe_num": 1, "error_id": "x"}]}',
        "jobs[0].error_id: expected an id",
    ),
    (
        "create_job_exe_ends",
        '{"exe_ends": [{"job_exe_id": 1, "job_id": 1, "exe_num": 1, "job_type_id": 1, "status": "FAILED",'
        ' "error_category": "OOPS"}]}',
        "exe_ends[0].error_category: expected one of",
    ),
    (
        "create_job_exe_ends",
        '{"exe_ends": [{"job_exe_id": 1, "job_id": 1, "exe_num": 1, "job_type_id": 1, "status": "FAILED",'
        ' "task_results": [1]}]}',
        "exe_ends[0].task_results[0]: expected an object",
    ),
    (
        "create_job_exe_ends",
        '{"exe_ends": [{"job_exe_id": 1, "job_id": 1, "exe_num": 1, "job_type_id": 1, "status": "FAILED",'
        ' "exit_code": true}]}',
        "exe_ends[0].exit_code: expected an integer or null",
    ),
    ("restart_scheduler", '{"when": "noon"}', "when: not an ISO 8601 time"),
    ("restart_scheduler", '{"at": "2026-01-01T00:00:00+00:00"}', "body: unknown field 'at'"),
    ("restart", "{}", "type: unknown message type 'restart'"),
]


@pytest.mark.parametrize(("type_", "body", "reason"), REFUSED, ids=[r[2] for r in REFUSED])
def test_decode_refuses_what_no_sender_writes_and_names_the_field(type_: str, body: str, reason: str) -> None:
    with pytest.raises(InvalidMessage) as refused:
        mt.decode(type_, body.encode())
    assert str(refused.value).startswith(reason), str(refused.value)


def test_decode_refuses_bytes_that_are_not_utf8_even_when_they_are_json_in_another_encoding() -> None:
    with pytest.raises(InvalidMessage, match="body: not UTF-8"):
        mt.decode("restart_scheduler", "{}".encode("utf-16"))


def test_the_ends_outbox_sends_one_message_per_type_ends_first_and_empties() -> None:
    outbox = mt.EndsOutbox()
    assert len(outbox) == 0 and outbox.take() == []
    outbox.failed.append(mt.FailedJob(2, 1))
    outbox.completed.append(mt.CompletedJob(1, 1))
    outbox.exe_ends.append(mt.JobExeEnd(5, 1, 1, 4, "COMPLETED"))
    outbox.exe_ends.append(mt.JobExeEnd(6, 2, 1, 4, "FAILED"))
    assert len(outbox) == 4
    assert [type(m) for m in outbox.take()] == [mt.CreateJobExeEnds, mt.CompletedJobs, mt.FailedJobs]
    assert len(outbox) == 0
