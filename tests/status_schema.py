"""Compare a status document with the spec's example, key by key and type by type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC_EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "spec_status_example.json").read_text()
)

#: Keys the spec shows with a value that may legitimately be null here (DESIGN §4, §9).
NULLABLE = {
    "scheduler.mesos.framework_id",
    "scheduler.mesos.master_hostname",
    "scheduler.mesos.master_port",
    "system.database_update.completed",
    "job_types[].title",
    "job_types[].description",
    "job_types[].icon_code",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def mismatches(example: Any, actual: Any, path: str = "") -> list[str]:
    """Every place where ``actual`` lacks a key of ``example`` or has another type there.

    Lists compare their items against the example's first item; an empty actual list is fine.
    Resource and by-job-type maps compare by the example's keys.
    """
    problems: list[str] = []
    kind_e, kind_a = _kind(example), _kind(actual)
    if kind_a == "null" and path in NULLABLE:
        return problems
    if kind_e != kind_a:
        return [f"{path or '<root>'}: expected {kind_e}, got {kind_a}"]
    if kind_e == "object":
        for key, sub in example.items():
            sub_path = f"{path}.{key}" if path else key
            if key not in actual:
                problems.append(f"{sub_path}: missing")
            else:
                problems.extend(mismatches(sub, actual[key], sub_path))
    elif kind_e == "list" and example:
        for item in actual:
            problems.extend(mismatches(example[0], item, f"{path}[]"))
    return problems
