"""Container runtimes: what a node runs to execute a job type in a container (issue 7).

The scheduler core never talks to a container engine. With the Docker runtime it plans tasks
whose command lines are ``python -m scale.runtime ...`` (see ``docker.py``), so every backend
that can run a command (the local backend, the Ray executor) runs containers the same way, and
the engine is whichever one ``DOCKER_HOST`` names on the node.
"""

from __future__ import annotations

#: The runtimes ``--runtime`` / ``SCALE_RUNTIME`` accept; ``process`` is the default.
RUNTIMES: tuple[str, ...] = ("process", "docker")
