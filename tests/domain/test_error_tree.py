"""Every error the domain raises on purpose is part of the one tree (``scale.exceptions``), so the
API's one table maps it (issue 15: ``ManifestError`` and ``InvalidTransition`` were outside)."""

from __future__ import annotations

import inspect

import pytest

from scale.domain import resources, seed, states
from scale.exceptions import Conflict, InvalidRequest, ScaleError


@pytest.mark.parametrize("module", [seed, states, resources])
def test_every_domain_exception_is_a_scale_error(module: object) -> None:
    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == getattr(module, "__name__", "")
    ]
    assert all(issubclass(e, ScaleError) for e in found), found


def test_a_manifest_error_is_an_invalid_request_naming_each_field() -> None:
    error = seed.ManifestError([seed.FieldError("job.name", "is required"), seed.FieldError("x", "bad")])
    assert isinstance(error, InvalidRequest)
    assert [str(p) for p in error.problems] == ["job.name: is required", "x: bad"]
    assert str(error) == "job.name: is required; x: bad"


def test_an_invalid_transition_is_a_conflict() -> None:
    assert issubclass(states.InvalidTransition, Conflict)
