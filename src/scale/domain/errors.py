"""The built-in error catalogue and the exit-code table for Scale's own tasks.

Names, titles, categories and retry flags follow the original (reference/scale-behaviour.md
§2.10, HEAD retry flags: system failures are retried, algorithm failures are not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scale.domain.states import ErrorCategory

S = ErrorCategory.SYSTEM
A = ErrorCategory.ALGORITHM


@dataclass(frozen=True, slots=True)
class ErrorDef:
    name: str
    title: str
    description: str
    category: ErrorCategory
    should_be_retried: bool


BUILTIN_ERRORS: tuple[ErrorDef, ...] = (
    ErrorDef("unknown", "Unknown", "The cause of this failure is unknown.", S, True),
    ErrorDef("database", "Database", "Scale could not connect to its database.", S, True),
    ErrorDef("database-operation", "Database Operation", "A database operation failed.", S, True),
    ErrorDef("filesystem-io", "Filesystem I/O", "A filesystem input/output operation failed.", S, True),
    ErrorDef("task-launch", "Task Launch", "The task failed to launch.", S, True),
    ErrorDef("docker-task-launch", "Docker Launch", "The Docker task failed to launch.", S, True),
    ErrorDef("docker-terminated", "Docker Terminated", "The Docker container was terminated.", S, True),
    ErrorDef("node-lost", "Node Lost", "The node running the job was lost or deprecated.", S, True),
    ErrorDef(
        "resource-starvation",
        "Resource Starvation",
        "The job waited too long for resources between its tasks.",
        S,
        True,
    ),
    ErrorDef("launch-timeout", "Launch Timeout", "The task stayed staging for too long.", S, True),
    ErrorDef("pull-timeout", "Pull-task Timeout", "The image pull task timed out.", S, True),
    ErrorDef("pre-timeout", "Pre-task Timeout", "The pre task timed out.", S, True),
    ErrorDef("post-timeout", "Post-task Timeout", "The post task timed out.", S, True),
    ErrorDef("system-timeout", "Timeout", "The system job timed out.", S, True),
    ErrorDef("timeout", "Timeout", "The algorithm ran longer than its job type's timeout.", A, False),
    ErrorDef("pull", "Docker Pull Failed", "The Docker image could not be pulled.", S, True),
    ErrorDef(
        "algorithm-unknown",
        "Algorithm Failure",
        "The algorithm exited with a code its job type does not map to an error.",
        A,
        False,
    ),
    ErrorDef(
        "invalid-results-manifest",
        "Invalid Results Manifest",
        "The algorithm's results manifest is invalid.",
        A,
        False,
    ),
    ErrorDef(
        "missing-required-output",
        "Missing Required Output",
        "A required output was not produced.",
        A,
        False,
    ),
    ErrorDef("missing-setting", "Missing Setting", "A required setting has no value.", S, False),
    ErrorDef("missing-mount", "Missing Mount", "A required mount has no configuration.", S, False),
    ErrorDef("deleted-file", "Deleted File", "An input file has been deleted.", S, False),
    ErrorDef("missing-file", "Missing File", "An input file is missing.", S, False),
    ErrorDef("ingest-timeout", "Ingest Timeout", "The ingest job timed out.", S, True),
    ErrorDef(
        "scheduler-lost",
        "Scheduler Restarted",
        "The scheduler restarted while the job was running.",
        S,
        True,
    ),
    ErrorDef(
        "unexpected-multiple-outputs",
        "Unexpected Multiple Outputs",
        "An output declared single produced several files.",
        A,
        False,
    ),
    ErrorDef("test", "Test Error", "An error used by diagnostic jobs.", S, False),
)

BUILTIN_BY_NAME: Mapping[str, ErrorDef] = {e.name: e for e in BUILTIN_ERRORS}

#: Exit codes of Scale's own code (pre/post and system tasks) -> built-in error name.
SYSTEM_EXIT_CODES: Mapping[int, str] = {
    2: "database",
    3: "database-operation",
    4: "filesystem-io",
    5: "invalid-results-manifest",
    6: "missing-setting",
    7: "missing-required-output",
    8: "deleted-file",
    9: "missing-file",
    10: "missing-mount",
}


def system_error_for_exit_code(code: int | None) -> str:
    """The built-in error for an exit code of Scale's own task code; ``unknown`` when unmapped."""
    if code is None:
        return "unknown"
    return SYSTEM_EXIT_CODES.get(code, "unknown")
