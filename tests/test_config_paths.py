"""Path settings are absolute from the moment ``Settings`` exist (issue 13): a relative path
means something only to the process that read it, and these cross into other processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scale.bootstrap import system_task_env
from scale.config import Settings
from scale.exceptions import InvalidRequest
from scale.scheduler.core import SchedulerConfig
from scale.scheduler.node_tasks import NodeTasks


def test_a_relative_data_dir_is_made_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for settings in (
        Settings(),
        Settings.from_env({}),
        Settings.from_env({"SCALE_DATA_DIR": "data"}),
        Settings.from_env({}, data_dir="data"),
    ):
        assert settings.data_dir.is_absolute()
        assert settings.data_dir.parent == tmp_path.resolve()
        assert settings.resolved_database_url == f"sqlite:///{settings.data_dir / 'scale.db'}"
    # What a message-handler task gets is the same absolute directory and database
    settings = Settings.from_env({}, data_dir="data")
    os.chdir("/")
    env = system_task_env(settings)
    assert env["SCALE_DATA_DIR"] == str(tmp_path.resolve() / "data")
    assert env["SCALE_DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'data' / 'scale.db'}"


def test_a_home_relative_data_dir_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings.from_env({"SCALE_DATA_DIR": "~/scale"}).data_dir == tmp_path.resolve() / "scale"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///rel/scale.db", "sqlite:///{cwd}/rel/scale.db"),
        ("sqlite+pysqlite:///rel.db", "sqlite+pysqlite:///{cwd}/rel.db"),
        ("sqlite:////abs/scale.db", "sqlite:////abs/scale.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        ("postgresql://user:pw@127.0.0.1:5432/db", "postgresql://user:pw@127.0.0.1:5432/db"),
    ],
)
def test_a_relative_sqlite_url_is_made_absolute_and_others_are_kept(
    given: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = Settings.from_env({"SCALE_DATABASE_URL": given}).resolved_database_url
    assert url == expected.format(cwd=tmp_path.resolve())


def test_a_database_url_that_is_not_one_is_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidRequest, match=r"^SCALE_DATABASE_URL: not a database URL"):
        Settings.from_env({"SCALE_DATABASE_URL": "not a url at all"})


def test_the_handlers_get_the_loop_periods_explicitly() -> None:
    """Tasks do not inherit our SCALE_* variables (``backends.task_env``): what the message
    handlers share with the scheduler is handed over in their spec."""
    env = system_task_env(Settings.from_env({"SCALE_PERIOD_MESSAGING": "0.25"}))
    assert env["SCALE_PERIOD_MESSAGING"] == "0.25"
    assert Settings.from_env(env).periods.messaging == 0.25


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SCALE_PERIOD_SCHEDULING": "soon"}, "SCALE_PERIOD_SCHEDULING"),
        ({"SCALE_PERIOD_TASK_HANDLING": "-1"}, "SCALE_PERIOD_TASK_HANDLING"),
        ({"SCALE_PORT": "70000"}, "SCALE_PORT"),
        ({"SCALE_PUBLIC_READ": "perhaps"}, "SCALE_PUBLIC_READ"),
        ({"SCALE_RUNTIME": "podman"}, "SCALE_RUNTIME"),
        ({"SCALE_BROKER_URL": "http://x"}, "SCALE_BROKER_URL"),
        ({"SCALE_MIN_FREE_DISK_MB": "lots"}, "SCALE_MIN_FREE_DISK_MB"),
    ],
)
def test_a_bad_variable_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Settings.from_env(env)
    assert [p.field for p in caught.value.problems] == [named]


def test_a_bad_option_is_named_as_the_option_and_empty_variables_are_not_set() -> None:
    with pytest.raises(InvalidRequest, match=r"^nodes: "):
        Settings.from_env({}, nodes=0)
    settings = Settings.from_env({"SCALE_BROKER_URL": "", "SCALE_DATABASE_URL": ""})
    assert settings.broker_url is None and settings.database_url is None


def test_every_default_is_declared_once_the_core_and_the_settings_agree() -> None:
    from scale.bootstrap import scheduler_config

    config = scheduler_config(Settings.from_env({}))
    defaults = SchedulerConfig(hostname="h", data_dir="/d")
    for name in ("scheduling_s", "sync_s", "status_s", "task_handling_s", "reconciliation_s", "messaging_s"):
        assert getattr(config, name) == getattr(defaults, name), name
    for name in ("min_free_disk_mb", "runtime", "health_period_s", "health_retry_s"):
        assert getattr(config, name) == getattr(defaults, name), name
    assert (
        NodeTasks(node_id=1, python="p", data_dir="/d", exe_root="/e").min_free_mb == config.min_free_disk_mb
    )


def test_the_nested_periods_read_their_own_variables() -> None:
    settings = Settings.from_env({"SCALE_PERIOD_TASK_HANDLING": "2.5", "SCALE_PERIOD_HEALTH_RETRY": "7"})
    assert settings.periods.task_handling == 2.5 and settings.periods.health_retry == 7.0
    assert settings.periods.scheduling == 1.0
