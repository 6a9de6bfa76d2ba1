"""Backends: where tasks run (DESIGN §4). The scheduler sees only the ``Backend`` protocol.

- ``local``: this host, optionally split into virtual nodes; tasks are real subprocesses.
- ``sim``: a SIMULATION of a cluster for scheduler tests and benchmarks; nothing runs.
- ``ray``: a Ray cluster (DESIGN §12); each task runs in a Ray actor. Needs the ``ray`` extra.

Implementations are imported lazily so that choosing one never imports the other's
dependencies.
"""

from __future__ import annotations

from typing import Any

from scale.scheduler.ports import Backend

BACKEND_NAMES: tuple[str, ...] = ("local", "sim", "ray")

__all__ = ["BACKEND_NAMES", "make_backend"]


def make_backend(name: str, **kwargs: Any) -> Backend:
    """Build the backend called ``name`` with the keyword arguments of its constructor.

    ``local`` takes ``LocalBackend``'s arguments (``data_dir`` required). ``sim`` takes
    ``SimBackend``'s, and for convenience builds its simulated nodes when ``nodes`` is not
    given: ``num_nodes`` (default 4) from ``make_sim_nodes`` with ``seed`` (default 0); a
    ``data_dir`` is accepted and ignored so one set of settings can build either backend.
    """
    if name == "local":
        from scale.backends.local import LocalBackend

        return LocalBackend(**kwargs)
    if name == "sim":
        from scale.backends.sim import SimBackend, make_sim_nodes

        kwargs.pop("data_dir", None)
        num_nodes = kwargs.pop("num_nodes", 4)
        seed = kwargs.pop("seed", 0)
        if "nodes" not in kwargs:
            kwargs["nodes"] = make_sim_nodes(num_nodes, seed=seed)
        return SimBackend(**kwargs)
    if name == "ray":
        try:
            from scale.backends.ray.backend import RayBackend
        except ImportError as exc:  # Ray is an optional extra
            raise ValueError(f"the ray backend needs Ray: pip install 'scale-python[ray]' ({exc})") from exc

        kwargs.pop("data_dir", None)
        return RayBackend(**kwargs)
    raise ValueError(f"unknown backend {name!r}; valid choices: {', '.join(BACKEND_NAMES)}")
