"""Every job state pair against the transition table."""

from __future__ import annotations

import itertools

import pytest

from scale.domain.states import JOB_TRANSITIONS, InvalidTransition, JobStatus, can_transition, transition

ALLOWED = {
    (JobStatus.PENDING, JobStatus.BLOCKED),
    (JobStatus.PENDING, JobStatus.QUEUED),
    (JobStatus.PENDING, JobStatus.CANCELED),
    (JobStatus.BLOCKED, JobStatus.PENDING),
    (JobStatus.BLOCKED, JobStatus.QUEUED),
    (JobStatus.BLOCKED, JobStatus.CANCELED),
    (JobStatus.QUEUED, JobStatus.QUEUED),
    (JobStatus.QUEUED, JobStatus.RUNNING),
    (JobStatus.QUEUED, JobStatus.COMPLETED),
    (JobStatus.QUEUED, JobStatus.FAILED),
    (JobStatus.QUEUED, JobStatus.CANCELED),
    (JobStatus.RUNNING, JobStatus.QUEUED),
    (JobStatus.RUNNING, JobStatus.COMPLETED),
    (JobStatus.RUNNING, JobStatus.FAILED),
    (JobStatus.RUNNING, JobStatus.CANCELED),
    (JobStatus.FAILED, JobStatus.QUEUED),
    (JobStatus.FAILED, JobStatus.CANCELED),  # Scale's Job.can_be_canceled: all but COMPLETED, CANCELED
    (JobStatus.CANCELED, JobStatus.QUEUED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(JobStatus, JobStatus)))
def test_every_pair(current: JobStatus, new: JobStatus) -> None:
    allowed = (current, new) in ALLOWED
    assert can_transition(current, new) is allowed
    if allowed:
        assert transition(current, new) is new
    else:
        with pytest.raises(InvalidTransition):
            transition(current, new)


def test_table_covers_every_state() -> None:
    assert set(JOB_TRANSITIONS) == set(JobStatus)
