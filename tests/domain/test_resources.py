from __future__ import annotations

from scale.domain.resources import ZERO, Resources, total


def test_arithmetic_and_fit() -> None:
    a = Resources(2, 1024, 100, 1)
    b = Resources(1, 512, 50, 0)
    assert a - b == Resources(1, 512, 50, 1)
    assert a + b == Resources(3, 1536, 150, 1)
    assert b.fits_in(a) and not a.fits_in(b)
    assert a.shortfalls(b) == ["cpus", "mem", "disk", "gpus"]
    assert Resources(1, 0, 0, 0).shortfalls(Resources(1, 0, 0, 0)) == []


def test_helpers() -> None:
    assert total([Resources(1), Resources(2)]) == Resources(3)
    assert Resources(-1, 2).clamp_non_negative() == Resources(0, 2)
    assert Resources(1.234, 2.345).rounded() == Resources(1.23, 2.35)
    assert Resources.from_mapping({"cpus": 2, "other": 5}) == Resources(2)
    assert ZERO.is_zero() and Resources(-1).any_negative()
    assert Resources(1, 2, 3, 4).to_dict() == {"cpus": 1, "mem": 2, "disk": 3, "gpus": 4}
