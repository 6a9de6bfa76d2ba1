"""The Ray backend (DESIGN §12): Ray nodes are agents, each task runs in its own Ray actor.

Importing this package does not import Ray; ``RayBackend`` is loaded on first use, so
``make_backend("ray", ...)`` is the only path that needs the ``ray`` extra installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scale.backends.ray.backend import RayBackend

__all__ = ["RayBackend"]


def __getattr__(name: str) -> Any:
    if name == "RayBackend":
        from scale.backends.ray.backend import RayBackend

        return RayBackend
    raise AttributeError(name)
