"""Issue 15: a job's status changes only through ``domain.states.transition``.

The transition table is the rule (Scale's job states); these tests keep the code to it: a scan
of the services and the store for status writes that bypass it, and the table itself against
what the operator actions and the handlers allow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from scale.domain.states import JOB_TRANSITIONS, InvalidTransition, JobStatus, can_transition, transition
from scale.services.job_actions import CANCELABLE, REQUEUEABLE

SRC = Path(__file__).resolve().parents[2] / "src" / "scale"
#: Where job rows are written; job creation (a JobRow(...) constructor) is not a change.
WRITERS = [SRC / "services", SRC / "store", SRC / "messaging"]


def _calls_transition(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and (getattr(n.func, "id", None) == "transition" or getattr(n.func, "attr", None) == "transition")
        for n in ast.walk(node)
    )


def _is_job_status_member(node: ast.AST) -> bool:
    """``JobStatus.X`` or ``JobStatus.X.value``."""
    while isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "JobStatus":
            return True
        node = node.value
    return False


def _bypasses(tree: ast.AST) -> list[int]:
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and not _calls_transition(node.value)
                ):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status" and _is_job_status_member(value):
                    lines.append(value.lineno)
    return lines


def test_no_status_write_bypasses_the_transition_table() -> None:
    found = {
        str(path.relative_to(SRC)): lines
        for folder in WRITERS
        for path in sorted(folder.rglob("*.py"))
        if (lines := _bypasses(ast.parse(path.read_text(), str(path))))
    }
    assert found == {}, f"job status written without transition(): {found}"


def test_the_scan_finds_a_bypass() -> None:
    """The scan can fail: both forms of a direct write are found, the transition form is not."""
    code = (
        "job.status = JobStatus.FAILED.value\n"
        "changes.append({'id': 1, 'status': JobStatus.RUNNING.value})\n"
        "job.status = transition(job.status, JobStatus.QUEUED).value\n"
    )
    assert _bypasses(ast.parse(code)) == [1, 2]


def test_transition_refuses_what_the_table_does_not_allow() -> None:
    with pytest.raises(InvalidTransition, match="COMPLETED to QUEUED"):
        transition(JobStatus.COMPLETED, JobStatus.QUEUED)
    with pytest.raises(InvalidTransition):
        transition("CANCELED", JobStatus.CANCELED)
    assert transition("RUNNING", JobStatus.FAILED) is JobStatus.FAILED


def test_operator_actions_are_the_tables_transitions() -> None:
    """Cancel takes every job the table lets go to CANCELED (Scale: all but COMPLETED and
    CANCELED, a FAILED job included); requeue only ended jobs that may go back to QUEUED."""
    assert set(CANCELABLE) == {s for s in JobStatus if can_transition(s, JobStatus.CANCELED)}
    assert all(can_transition(s, JobStatus.QUEUED) for s in REQUEUEABLE)
    assert JOB_TRANSITIONS[JobStatus.COMPLETED] == frozenset()
