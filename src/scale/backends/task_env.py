"""The environment a task starts with: the node's, less this scheduler's own settings.

A task inherits the environment of the process that starts it (``PATH``, ``HOME``, ``LANG``,
``DOCKER_HOST``, ...), but not our ``SCALE_*`` variables: those are process settings of the
scheduler (the database URL, the broker URL with its password, the data directory), not the
task's business, and a job's command must not see credentials it was never given. What a task
needs from us it gets explicitly in its spec's ``env`` (a system task gets the database URL
there; a job its inputs and ``ALLOCATED_*``), which is applied last.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The prefix of this project's own settings (``scale.config``): never inherited by a task.
SETTINGS_PREFIX = "SCALE_"


def task_environment(inherited: Mapping[str, str], spec_env: Mapping[str, str]) -> dict[str, str]:
    """``inherited`` without our settings, then ``spec_env`` on top (the spec wins)."""
    env = {k: v for k, v in inherited.items() if not k.startswith(SETTINGS_PREFIX)}
    env.update(spec_env)
    return env
