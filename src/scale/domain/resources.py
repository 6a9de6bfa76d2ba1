"""The resource vector every part of the scheduler shares.

Scale's ``NodeResources`` was a mutable name -> scalar map; ours is a frozen vector of the four
resources the status always reports (cpus, mem MiB, disk MiB, gpus), so arithmetic can never
change a value another part still holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RESOURCE_NAMES: tuple[str, ...] = ("cpus", "mem", "disk", "gpus")
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Resources:
    """cpus (cores), mem (MiB), disk (MiB), gpus (devices)."""

    cpus: float = 0.0
    mem: float = 0.0
    disk: float = 0.0
    gpus: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Resources:
        # Positional, not a comprehension into **kwargs: the scheduler builds ~1,000 a pass.
        get = values.get
        return cls(
            float(get("cpus", 0.0)), float(get("mem", 0.0)), float(get("disk", 0.0)), float(get("gpus", 0.0))
        )

    def to_dict(self) -> dict[str, float]:
        return {"cpus": self.cpus, "mem": self.mem, "disk": self.disk, "gpus": self.gpus}

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpus + other.cpus, self.mem + other.mem, self.disk + other.disk, self.gpus + other.gpus
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpus - other.cpus, self.mem - other.mem, self.disk - other.disk, self.gpus - other.gpus
        )

    def fits_in(self, available: Resources) -> bool:
        """True when every resource requested here is within ``available``."""
        return (
            self.cpus <= available.cpus + _EPSILON
            and self.mem <= available.mem + _EPSILON
            and self.disk <= available.disk + _EPSILON
            and self.gpus <= available.gpus + _EPSILON
        )

    def shortfalls(self, available: Resources) -> list[str]:
        """Names of the resources that ``available`` lacks for this request, in a fixed order."""
        return [name for name in RESOURCE_NAMES if getattr(self, name) > getattr(available, name) + _EPSILON]

    def max_with(self, other: Resources) -> Resources:
        return Resources(
            max(self.cpus, other.cpus),
            max(self.mem, other.mem),
            max(self.disk, other.disk),
            max(self.gpus, other.gpus),
        )

    def min_with(self, other: Resources) -> Resources:
        return Resources(
            min(self.cpus, other.cpus),
            min(self.mem, other.mem),
            min(self.disk, other.disk),
            min(self.gpus, other.gpus),
        )

    def clamp_non_negative(self) -> Resources:
        return self.max_with(ZERO)

    def rounded(self, ndigits: int = 2) -> Resources:
        return Resources(
            round(self.cpus, ndigits),
            round(self.mem, ndigits),
            round(self.disk, ndigits),
            round(self.gpus, ndigits),
        )

    def scaled(self, factor: float) -> Resources:
        return Resources(self.cpus * factor, self.mem * factor, self.disk * factor, self.gpus * factor)

    def is_zero(self) -> bool:
        return all(abs(v) <= _EPSILON for v in (self.cpus, self.mem, self.disk, self.gpus))

    def any_negative(self) -> bool:
        return any(v < -_EPSILON for v in (self.cpus, self.mem, self.disk, self.gpus))


ZERO = Resources()


def total(items: Iterable[Resources]) -> Resources:
    acc = ZERO
    for item in items:
        acc = acc + item
    return acc
