"""Message handlers over the database transport: idempotent, order-independent, retries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from scale.domain.messages import MESSAGE_TYPES, CommandMessage, from_json
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.tables import JobExecutionEndRow, JobExecutionRow, JobRow, MessageRow, QueueRow
from tests.factories import T0, error_id, make_job_type, make_node, make_queued_job


def worker(db: Database) -> MessageWorker:
    return MessageWorker(DatabaseTransport(db), HANDLERS, now=lambda: T0 + timedelta(minutes=1))


def job(db: Database, job_id: int) -> JobRow:
    with db.read() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        return row


def start_execution(db: Database, job_id: int, type_id: int, node_id: int) -> int:
    with db.session() as s:
        s.query(QueueRow).filter(QueueRow.job_id == job_id).delete()
        exe = JobExecutionRow(
            job_id=job_id,
            exe_num=job(db, job_id).num_exes,
            job_type_id=type_id,
            node_id=node_id,
            cluster_id=f"c{job_id}",
            resources={},
            timeout=60,
            priority=100,
            queued=T0,
            started=T0,
            created=T0,
        )
        s.add(exe)
        s.flush()
        return exe.id


def send(db: Database, *messages: CommandMessage) -> None:
    DatabaseTransport(db).send(list(messages))


def test_running_then_completed(db: Database) -> None:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    send(db, from_json("running_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]}))
    assert worker(db).drain() == 1
    assert job(db, job_id).status == "RUNNING"
    assert job(db, job_id).node_id == node_id
    send(db, from_json("completed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1}]}))
    worker(db).drain()
    assert job(db, job_id).status == "COMPLETED"


def test_a_batch_changes_only_the_jobs_on_the_execution_it_names(db: Database) -> None:
    """One running_jobs and one completed_jobs message over several jobs (as a scheduling pass
    sends them): a stale exe_num, an unknown job and a repeated entry change nothing; output is
    kept; a completion without a node keeps the node the job ran on; timestamps come through."""
    type_id, node_a, node_b = make_job_type(db), make_node(db, "node-a"), make_node(db, "node-b")
    first, second, third = (make_queued_job(db, type_id) for _ in range(3))
    started = (T0 + timedelta(seconds=5)).isoformat()
    send(
        db,
        from_json(
            "running_jobs",
            {
                "jobs": [
                    {"job_id": first, "exe_num": 1, "node_id": node_a, "started": started},
                    {"job_id": second, "exe_num": 1, "node_id": node_b, "started": started},
                    {"job_id": second, "exe_num": 1, "node_id": node_a, "started": started},
                    {"job_id": third, "exe_num": 2, "node_id": node_a, "started": started},
                    {"job_id": 999_999, "exe_num": 1, "node_id": node_a},
                ]
            },
        ),
    )
    assert worker(db).drain() == 1
    assert (job(db, first).status, job(db, first).node_id) == ("RUNNING", node_a)
    assert (job(db, second).status, job(db, second).node_id) == ("RUNNING", node_b)
    assert job(db, first).started == T0 + timedelta(seconds=5)
    assert job(db, third).status == "QUEUED"  # exe_num 2 is not the job's execution

    ended = (T0 + timedelta(seconds=9)).isoformat()
    send(
        db,
        from_json(
            "completed_jobs",
            {
                "jobs": [
                    {"job_id": first, "exe_num": 1, "ended": ended, "output": {"files": [1]}},
                    {"job_id": second, "exe_num": 0, "ended": ended},
                ]
            },
        ),
    )
    worker(db).drain()
    done = job(db, first)
    assert (done.status, done.node_id, done.output) == ("COMPLETED", node_a, {"files": [1]})
    assert done.ended == T0 + timedelta(seconds=9)
    assert done.last_modified == T0 + timedelta(minutes=1)
    assert job(db, second).status == "RUNNING"


def test_completed_before_running_stays_completed(db: Database) -> None:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    send(
        db,
        from_json("completed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]}),
        from_json("running_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]}),
    )
    worker(db).drain()
    assert job(db, job_id).status == "COMPLETED"


def test_retryable_failure_requeues_until_max_tries(db: Database) -> None:
    type_id = make_job_type(db)
    job_id = make_queued_job(db, type_id, max_tries=2)
    lost = error_id(db, "node-lost")  # should_be_retried
    send(db, from_json("failed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "error_id": lost}]}))
    worker(db).drain()
    row = job(db, job_id)
    assert (row.status, row.num_exes) == ("QUEUED", 2)
    with db.read() as s:
        queue = s.get(QueueRow, job_id)
        assert queue is not None and queue.exe_num == 2
    # A duplicate of the first failure changes nothing
    send(db, from_json("failed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "error_id": lost}]}))
    worker(db).drain()
    assert job(db, job_id).num_exes == 2
    # The second failure reaches max_tries: FAILED for good
    send(db, from_json("failed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 2, "error_id": lost}]}))
    worker(db).drain()
    row = job(db, job_id)
    assert (row.status, row.error_id) == ("FAILED", lost)


def test_non_retryable_failure_ends_the_job(db: Database) -> None:
    type_id = make_job_type(db)
    job_id = make_queued_job(db, type_id)
    algo = error_id(db, "algorithm-unknown")
    send(db, from_json("failed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "error_id": algo}]}))
    worker(db).drain()
    assert job(db, job_id).status == "FAILED"


def test_exe_ends_are_created_once(db: Database) -> None:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    exe_id = start_execution(db, job_id, type_id, node_id)
    end = {
        "job_exe_id": exe_id,
        "job_id": job_id,
        "exe_num": 1,
        "job_type_id": type_id,
        "node_id": node_id,
        "status": "COMPLETED",
        "task_results": [],
    }
    send(
        db,
        from_json("create_job_exe_ends", {"exe_ends": [end]}),
        from_json("create_job_exe_ends", {"exe_ends": [end]}),
    )
    assert worker(db).drain() == 2
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(JobExecutionEndRow)) == 1


def test_restart_scheduler_leaves_running_executions_to_the_new_scheduler(db: Database) -> None:
    """The new scheduler adopts or ends leftover executions itself; the message must not fail them."""
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    exe_id = start_execution(db, job_id, type_id, node_id)
    send(db, from_json("restart_scheduler", {"when": (T0 + timedelta(seconds=30)).isoformat()}))
    worker(db).drain()
    assert job(db, job_id).num_exes == 1
    with db.read() as s:
        assert s.get(JobExecutionEndRow, exe_id) is None


def missing_execution_end(job_id: int, type_id: int) -> CommandMessage:
    """A well-formed message its handler fails on every time: the end of an execution that does
    not exist (the foreign key refuses it)."""
    end = {"job_exe_id": 999_999, "job_id": job_id, "exe_num": 1, "job_type_id": type_id, "status": "FAILED"}
    return from_json("create_job_exe_ends", {"exe_ends": [end]})


def test_a_poison_message_goes_dead_after_five_attempts_and_does_not_block(db: Database) -> None:
    type_id = make_job_type(db)
    job_id = make_queued_job(db, type_id)
    transport = DatabaseTransport(db)
    transport.send([missing_execution_end(job_id, type_id)])
    transport.send([from_json("completed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1}]})])
    w = worker(db)
    w.drain()
    assert job(db, job_id).status == "COMPLETED"
    assert transport.dead_count() == 1
    assert (w.failed, w.rejected) == (5, 0)
    with db.read() as s:
        dead = s.scalars(select(MessageRow)).one()
        assert dead.attempts == 5 and "IntegrityError" in (dead.last_error or "")


def test_every_message_type_has_a_handler_and_every_handler_a_message_type() -> None:
    assert set(HANDLERS) == MESSAGE_TYPES
