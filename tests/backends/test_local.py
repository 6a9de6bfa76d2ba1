"""The local backend with real subprocesses, plus the pure host-detection parsers."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scale.backends.hostinfo import (
    HostTotals,
    detect_gpu_indices,
    detect_host_totals,
    parse_gpu_indices,
    parse_meminfo,
)
from scale.backends.local import LocalBackend, describe_exit, split_host, task_needs
from scale.clock import FakeClock
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import AgentUp, NewOffer, TaskStatus
from tests.backends.conftest import Recorder, children_of, pid_dead, read_int, spec
from tests.util import wait_until

AGENT = "local-testhost-1"
#: The fake host's node with one node: everything, less the memory and disk others used.
OFFERABLE = Resources(cpus=4.0, mem=7168.0, disk=80_000.0, gpus=2.0)

MakeLocal = Callable[..., LocalBackend]

pytestmark = pytest.mark.usefixtures("no_orphans")


@pytest.fixture
def make_local(tmp_path: Path, fake_host: HostTotals) -> Iterator[MakeLocal]:
    """Build local backends on the fake host (unless ``host=None``) and close them all afterwards."""
    made: list[LocalBackend] = []

    def factory(**kwargs: Any) -> LocalBackend:
        kwargs.setdefault("host", fake_host)
        kwargs.setdefault("hostname", "testhost")
        backend = LocalBackend(tmp_path / "data", **kwargs)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        backend.close()


@pytest.fixture
def rec(make_local: MakeLocal) -> Recorder:
    """A one-node backend on the fake host, polled once so its offer is held."""
    recorder = Recorder(make_local())
    recorder.poll()
    return recorder


# -- host detection (pure parsers) ---------------------------------------------------------------

MEMINFO = """MemTotal:       16384000 kB
MemFree:         1000000 kB
MemAvailable:   12288000 kB
Buffers:          100000 kB
Cached:          2000000 kB
"""


def test_parse_meminfo_gives_total_and_available_in_mib() -> None:
    assert parse_meminfo(MEMINFO) == (16000.0, 12000.0)


def test_parse_meminfo_without_memavailable_estimates_from_free_buffers_cached() -> None:
    text = "\n".join(line for line in MEMINFO.splitlines() if not line.startswith("MemAvailable"))
    total, available = parse_meminfo(text)
    assert total == 16000.0
    assert available == pytest.approx((1000000 + 100000 + 2000000) / 1024)


def test_parse_meminfo_without_memtotal_is_an_error() -> None:
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("MemFree: 10 kB\n")


def test_parse_gpu_indices() -> None:
    assert parse_gpu_indices("0\n1\n\n3\n") == (0, 1, 3)
    assert parse_gpu_indices("") == ()
    with pytest.raises(ValueError):
        parse_gpu_indices("NVIDIA-SMI has failed because it couldn't communicate with the driver\n")


def _fake_nvidia_smi(tmp_path: Path, body: str) -> str:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_detect_gpu_indices_reads_nvidia_smi(tmp_path: Path) -> None:
    assert detect_gpu_indices(_fake_nvidia_smi(tmp_path, "printf '0\\n1\\n'")) == (0, 1)


@pytest.mark.parametrize(
    "body", ["echo 'driver not loaded' >&2; exit 9", "echo 'No devices were found'"], ids=["exit", "garbage"]
)
def test_detect_gpu_indices_failure_means_no_gpus(tmp_path: Path, body: str) -> None:
    assert detect_gpu_indices(_fake_nvidia_smi(tmp_path, body)) == ()


def test_detect_gpu_indices_missing_binary_means_no_gpus(tmp_path: Path) -> None:
    assert detect_gpu_indices(str(tmp_path / "no-such-binary")) == ()


def test_detect_host_totals(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    host = detect_host_totals(tmp_path / "new" / "data", meminfo_path=meminfo)
    assert (tmp_path / "new" / "data").is_dir()
    assert host.cpus == os.cpu_count()
    assert host.mem_mib == 16000.0
    assert host.mem_used_by_others_mib == 4000.0
    assert host.disk_mib > 0
    assert 0 <= host.disk_used_by_others_mib <= host.disk_mib


# -- node split (pure) ---------------------------------------------------------------------------


def test_split_host_divides_evenly_and_deals_gpus_round_robin() -> None:
    host = HostTotals(cpus=6, mem_mib=3000, disk_mib=900, gpus=(0, 1, 2), mem_used_by_others_mib=300)
    shares = split_host(host, 2, "box")
    assert [s.hostname for s in shares] == ["box-1", "box-2"]
    assert [s.gpus for s in shares] == [(0, 2), (1,)]
    assert shares[0].total == Resources(3.0, 1500.0, 450.0, 2.0)
    assert shares[1].total == Resources(3.0, 1500.0, 450.0, 1.0)
    assert shares[0].offerable == Resources(3.0, 1350.0, 450.0, 2.0)
    assert split_host(host, 1, "box")[0].hostname == "box"
    with pytest.raises(ValueError):
        split_host(host, 0, "box")


def test_split_host_rounds_to_two_decimals() -> None:
    shares = split_host(HostTotals(cpus=2, mem_mib=1000, disk_mib=1000), 3, "box")
    assert shares[0].total.cpus == 0.67
    assert shares[0].total.mem == 333.33


def test_task_needs_whole_gpus_and_exit_descriptions() -> None:
    assert task_needs(spec("t", AGENT, gpus=0.5)).gpus == 1.0
    assert task_needs(spec("t", AGENT, gpus=2.0)).gpus == 2.0
    assert describe_exit(0) == (0, "exited with code 0")
    assert describe_exit(-signal.SIGSEGV) == (139, "terminated by SIGSEGV (11)")


# -- registration and agents ---------------------------------------------------------------------


def test_register_names_framework_and_this_host(make_local: MakeLocal) -> None:
    registration = make_local(hostname=None).register()
    assert re.fullmatch(r"scale-local-[0-9a-f]{8}", registration.framework_id)
    assert registration.master_hostname == socket.gethostname()
    assert registration.master_port is None


def test_real_host_one_node_has_all_cpus(make_local: MakeLocal) -> None:
    backend = make_local(host=None, hostname=None)
    hostname = socket.gethostname()
    [agent] = backend.agents()
    assert agent.agent_id == f"local-{hostname}-1"
    assert agent.hostname == hostname
    assert backend.agent_totals() == {agent.agent_id: agent.total}
    assert agent.total.cpus == os.cpu_count()
    assert agent.total.mem > 0
    assert agent.total.disk > 0


def test_real_host_two_nodes_split_evenly(make_local: MakeLocal) -> None:
    backend = make_local(host=None, hostname="box", num_nodes=2)
    agents = backend.agents()
    assert [a.hostname for a in agents] == ["box-1", "box-2"]
    assert [a.agent_id for a in agents] == ["local-box-1", "local-box-2"]
    assert sum(a.total.cpus for a in agents) == pytest.approx(os.cpu_count())
    assert agents[0].total.cpus == agents[1].total.cpus
    assert agents[0].total.mem == agents[1].total.mem


def test_first_poll_announces_agents_then_offers_and_offers_stay_within_offerable(
    make_local: MakeLocal,
) -> None:
    rec = Recorder(make_local(num_nodes=2))
    events = rec.poll()
    assert [type(e) for e in events] == [AgentUp, AgentUp, NewOffer, NewOffer]
    for event in events[2:]:
        assert isinstance(event, NewOffer)
        offer = event.offer
        assert re.fullmatch(rf"{offer.agent_id}-o\d+", offer.offer_id)
        # each node may offer its total less its half of what others used at start
        assert offer.resources == Resources(2.0, 3584.0, 40_000.0, 1.0)
    assert rec.poll() == []  # nothing changed: nothing new to offer


def test_offer_received_comes_from_the_injected_clock(make_local: MakeLocal) -> None:
    clock = FakeClock()
    rec = Recorder(make_local(clock=clock))
    rec.poll()
    assert [o.received for o in rec.held.values()] == [clock.now()]


# -- launching -----------------------------------------------------------------------------------


def test_launch_consumes_offers_and_reoffers_the_remainder(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("t1", AGENT, "exec sleep 60", cpus=1.5, mem=1000, gpus=1)])
    assert rec.held == {}
    events = rec.poll()
    assert isinstance(events[0], TaskStatus)
    assert events[0].update.state == TaskState.RUNNING
    assert [type(e) for e in events] == [TaskStatus, NewOffer]
    assert rec.held_sum(AGENT) == Resources(2.5, 6168.0, 80_000.0, 1.0)
    assert rec.poll() == []


def test_failing_command_reports_running_then_failed_with_exit_code_and_output(
    rec: Recorder, tmp_path: Path
) -> None:
    out = tmp_path / "logs" / "out.txt"
    rec.launch([spec("t1", AGENT, "echo hi; exit 3", stdout_path=str(out))])
    failed = rec.wait_for("t1", TaskState.FAILED)
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.FAILED]
    assert failed.exit_code == 3
    assert failed.agent_id == AGENT
    assert out.read_text() == "hi\n"


def test_successful_command_finishes_and_frees_its_resources(rec: Recorder, tmp_path: Path) -> None:
    err = tmp_path / "err.txt"
    rec.launch([spec("t1", AGENT, "echo oops >&2", cpus=4, stderr_path=str(err))])
    finished = rec.wait_for("t1", TaskState.FINISHED)
    assert finished.exit_code == 0
    assert err.read_text() == "oops\n"
    # the end is reported before the offer that gives its capacity back
    assert rec.held_sum(AGENT) == OFFERABLE
    last_update = max(i for i, e in enumerate(rec.events) if isinstance(e, TaskStatus))
    last_offer = max(i for i, e in enumerate(rec.events) if isinstance(e, NewOffer))
    assert last_update < last_offer


def test_env_and_workdir_reach_the_process(rec: Recorder, tmp_path: Path) -> None:
    workdir = tmp_path / "work" / "not-yet-there"
    rec.launch(
        [
            spec(
                "t1",
                AGENT,
                'printf "%s\\n" "$SCALE_TEST_VAR" > seen.txt; pwd >> seen.txt',
                env={"SCALE_TEST_VAR": "hello world"},
                workdir=str(workdir),
            )
        ]
    )
    rec.wait_for("t1", TaskState.FINISHED)
    assert (workdir / "seen.txt").read_text().splitlines() == ["hello world", str(workdir)]


def test_default_workdir_and_logs_live_under_the_data_dir(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("job/1", AGENT, "pwd; echo bad >&2")])
    rec.wait_for("job/1", TaskState.FINISHED)
    task_dir = tmp_path / "data" / "tasks" / "job_1"
    assert (task_dir / "stdout.log").read_text() == f"{task_dir}\n"
    assert (task_dir / "stderr.log").read_text() == "bad\n"


def test_death_by_a_signal_we_did_not_send_is_failed_128_plus_signal(rec: Recorder) -> None:
    rec.launch([spec("t1", AGENT, "kill -KILL $$")])
    failed = rec.wait_for("t1", TaskState.FAILED)
    assert failed.exit_code == 128 + signal.SIGKILL
    assert "SIGKILL" in failed.message


def test_launch_beyond_the_offers_fails_every_task_and_never_raises(rec: Recorder) -> None:
    tasks = [spec("small", AGENT, "true"), spec("huge", AGENT, "true", cpus=1000)]
    rec.launch(tasks)
    rec.poll()
    for task_id in ("small", "huge"):
        [update] = rec.updates(task_id)
        assert update.state == TaskState.FAILED
        assert update.exit_code is None
        assert "cpus" in update.message
    assert rec.held_sum(AGENT) == OFFERABLE  # the consumed offer's capacity came back


def test_launch_on_unknown_or_used_offer_fails(rec: Recorder) -> None:
    [offer_id] = rec.held
    rec.backend.launch(["no-such-offer"], [spec("t1", AGENT)])
    rec.backend.launch([offer_id], [spec("t2", AGENT, "exec sleep 60")])
    rec.backend.launch([offer_id], [spec("t3", AGENT)])  # already used
    rec.poll()
    assert rec.states("t1") == [TaskState.FAILED]
    assert "no-such-offer" in rec.updates("t1")[0].message
    assert rec.states("t2") == [TaskState.RUNNING]
    assert rec.states("t3") == [TaskState.FAILED]


def test_task_naming_another_agent_fails(make_local: MakeLocal) -> None:
    rec = Recorder(make_local(num_nodes=2))
    rec.poll()
    first = [o.offer_id for o in rec.held_for("local-testhost-1")]
    rec.backend.launch(first, [spec("t1", "local-testhost-2")])
    rec.poll()
    [update] = rec.updates("t1")
    assert update.state == TaskState.FAILED
    assert "local-testhost-2" in update.message


def test_a_task_id_that_is_already_running_is_refused(rec: Recorder) -> None:
    rec.launch([spec("t1", AGENT, "exec sleep 60")])
    rec.poll()
    rec.launch([spec("t1", AGENT, "true")])
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.FAILED]
    rec.backend.reconcile(["t1"])
    rec.poll()
    assert rec.states("t1")[-1] == TaskState.RUNNING  # the running one is untouched


def test_start_failure_is_a_failed_update_with_the_os_error(rec: Recorder, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rec.launch([spec("t1", AGENT, workdir=str(blocker / "sub")), spec("t2", AGENT, "true")])
    rec.poll()
    [update] = rec.updates("t1")
    assert update.state == TaskState.FAILED
    assert update.exit_code is None
    assert "could not start" in update.message
    assert "a-file" in update.message
    rec.wait_for("t2", TaskState.FINISHED)  # the other task of the launch still ran


def test_decline_returns_capacity(rec: Recorder) -> None:
    [(old_id, old)] = rec.held.items()
    rec.decline_all()
    [event] = rec.poll()
    assert isinstance(event, NewOffer)
    assert event.offer.offer_id != old_id
    assert event.offer.resources == old.resources


# -- killing -------------------------------------------------------------------------------------


def test_kill_ends_the_task_quickly_and_its_process_group_is_gone(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("t1", AGENT, "echo $$ > pid; exec sleep 60", workdir=str(tmp_path))])
    rec.wait_for("t1", TaskState.RUNNING)
    pgid = read_int(tmp_path / "pid")
    started = time.monotonic()
    rec.backend.kill("t1")
    killed = rec.wait_for("t1", TaskState.KILLED, timeout=5)
    assert time.monotonic() - started < 5
    assert "SIGTERM" in killed.message
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert rec.held_sum(AGENT) == OFFERABLE


def test_kill_escalates_to_sigkill_after_the_grace(make_local: MakeLocal, tmp_path: Path) -> None:
    clock = FakeClock()
    rec = Recorder(make_local(clock=clock, kill_grace_s=5.0))
    rec.poll()
    command = "trap '' TERM; echo $$ > pid; exec sleep 60"
    rec.launch([spec("t1", AGENT, command, workdir=str(tmp_path))])
    pid = read_int(tmp_path / "pid")
    rec.backend.kill("t1")
    for _ in range(3):
        rec.poll()
    assert not pid_dead(pid)  # SIGTERM is ignored and the grace has not passed on our clock
    assert rec.find("t1", TaskState.KILLED) is None
    clock.advance(5.0)
    killed = rec.wait_for("t1", TaskState.KILLED, timeout=5)
    assert "SIGKILL" in killed.message
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_kill_reaches_processes_the_task_spawned(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("t1", AGENT, "sleep 60 & echo $! > child; wait", workdir=str(tmp_path))])
    child = read_int(tmp_path / "child")
    rec.backend.kill("t1")
    rec.wait_for("t1", TaskState.KILLED, timeout=5)
    wait_until(lambda: pid_dead(child), timeout=5, what="the spawned child to die")


def test_processes_left_behind_by_an_ended_task_are_killed(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("t1", AGENT, "sleep 60 & echo $! > child", workdir=str(tmp_path))])
    rec.wait_for("t1", TaskState.FINISHED)
    child = read_int(tmp_path / "child")
    wait_until(lambda: pid_dead(child), timeout=5, what="the straggler to die")


def test_kill_after_the_task_exited_on_its_own_keeps_its_true_end(rec: Recorder, tmp_path: Path) -> None:
    rec.launch([spec("t1", AGENT, "echo $$ > pid; exit 5", workdir=str(tmp_path))])
    pid = read_int(tmp_path / "pid")
    wait_until(lambda: pid_dead(pid), what="the task to exit")  # exited, not yet reaped by a poll
    rec.backend.kill("t1")
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.FAILED]
    assert rec.updates("t1")[-1].exit_code == 5


def test_kill_of_unknown_task_is_lost_and_of_ended_task_repeats_its_end(rec: Recorder) -> None:
    rec.backend.kill("ghost")
    rec.launch([spec("t1", AGENT, "exit 4")])
    rec.wait_for("t1", TaskState.FAILED)
    rec.backend.kill("t1")
    rec.poll()
    [lost] = rec.updates("ghost")
    assert lost.state == TaskState.LOST
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.FAILED, TaskState.FAILED]


# -- reconciliation ------------------------------------------------------------------------------


def test_reconcile_answers_running_final_or_lost(rec: Recorder) -> None:
    rec.launch([spec("done", AGENT, "exit 0", cpus=1), spec("busy", AGENT, "exec sleep 60", cpus=1)])
    rec.wait_for("done", TaskState.FINISHED)
    before = len(rec.events)
    rec.backend.reconcile(["busy", "done", "ghost"])
    events = rec.poll()
    answers = [e.update for e in events if isinstance(e, TaskStatus)]
    assert [(u.task_id, u.state) for u in answers] == [
        ("busy", TaskState.RUNNING),
        ("done", TaskState.FINISHED),
        ("ghost", TaskState.LOST),
    ]
    assert answers[1].exit_code == 0
    assert len(rec.events) == before + len(events)


# -- GPUs ----------------------------------------------------------------------------------------


def test_gpu_tasks_get_whole_devices_and_others_see_none(rec: Recorder, tmp_path: Path) -> None:
    # Written to a temporary name and renamed, so the file appears with its whole content.
    show = 'printf "%s" "$CUDA_VISIBLE_DEVICES" > {0}.tmp && mv {0}.tmp {0}'
    rec.launch(
        [
            spec("g1", AGENT, show.format(tmp_path / "g1") + "; exec sleep 60", gpus=1),
            spec("g2", AGENT, show.format(tmp_path / "g2") + "; exec sleep 60", gpus=1),
            spec("cpu", AGENT, show.format(tmp_path / "cpu")),
        ]
    )
    rec.wait_for("cpu", TaskState.FINISHED)
    wait_until(lambda: (tmp_path / "g1").exists() and (tmp_path / "g2").exists(), what="GPU tasks to start")
    assert {(tmp_path / "g1").read_text(), (tmp_path / "g2").read_text()} == {"0", "1"}
    assert (tmp_path / "cpu").read_text() == ""
    assert rec.held_sum(AGENT).gpus == 0
    rec.backend.kill("g1")
    rec.wait_for("g1", TaskState.KILLED)
    assert rec.held_sum(AGENT).gpus == 1  # the freed device is offered again
    rec.launch([spec("g3", AGENT, show.format(tmp_path / "g3"), gpus=1)])
    rec.wait_for("g3", TaskState.FINISHED)
    assert (tmp_path / "g3").read_text() == (tmp_path / "g1").read_text()


def test_gpus_are_dealt_across_virtual_nodes(make_local: MakeLocal, tmp_path: Path) -> None:
    backend = make_local(num_nodes=2)
    rec = Recorder(backend)
    rec.poll()
    assert {a.agent_id: a.total.gpus for a in backend.agents()} == {
        "local-testhost-1": 1.0,
        "local-testhost-2": 1.0,
    }
    rec.launch([spec("g", "local-testhost-2", f'printf "%s" "$CUDA_VISIBLE_DEVICES" > {tmp_path}/g', gpus=1)])
    rec.wait_for("g", TaskState.FINISHED)
    assert (tmp_path / "g").read_text() == "1"


# -- closing -------------------------------------------------------------------------------------


def test_close_stops_every_task_and_leaves_no_child(make_local: MakeLocal, tmp_path: Path) -> None:
    before = set(children_of(os.getpid()))
    rec = Recorder(make_local())
    rec.poll()
    rec.launch(
        [
            spec("a", AGENT, "exec sleep 60", cpus=1),
            spec("b", AGENT, "trap '' TERM; echo $$ > stubborn; sleep 60", cpus=1, workdir=str(tmp_path)),
            spec("c", AGENT, "sleep 60 & wait", cpus=1),
        ]
    )
    rec.poll()
    stubborn = read_int(tmp_path / "stubborn")
    started = time.monotonic()
    rec.backend.close()
    assert time.monotonic() - started < 5
    assert pid_dead(stubborn)
    assert [pid for pid in children_of(os.getpid()) if pid not in before] == []
    rec.backend.close()  # idempotent
    assert rec.backend.poll() == []


# -- restart: tasks run under a supervisor and are adopted by the next backend -------------------


@pytest.fixture
def abandon() -> Iterator[Callable[[LocalBackend], None]]:
    """Play a scheduler that died: the backend is dropped without ``close``, its tasks keep running.

    In a real crash the supervisors are re-parented; here they stay children of the test
    runner, so they are reaped at the end (each has exited by then, its task killed or ended).
    """
    dropped: list[LocalBackend] = []

    def drop(backend: LocalBackend) -> None:
        backend._closed = True
        dropped.append(backend)

    yield drop
    for backend in dropped:
        supervisors = backend._exiting + [t.supervisor for t in backend._tasks.values() if t.supervisor]
        for supervisor in supervisors:
            supervisor.wait(timeout=10)


def test_a_new_backend_adopts_running_tasks_and_learns_how_others_ended(
    make_local: MakeLocal, tmp_path: Path, abandon: Callable[[LocalBackend], None]
) -> None:
    first = Recorder(make_local())
    first.poll()
    work = tmp_path / "w"
    first.launch(
        [
            spec("long", AGENT, "echo $$ > long.pid; exec sleep 60", workdir=str(work)),
            spec("quick", AGENT, "exit 3", workdir=str(work)),
            spec("fine", AGENT, "true", workdir=str(work)),
        ]
    )
    first.wait_for("quick", TaskState.FAILED)
    first.wait_for("fine", TaskState.FINISHED)
    long_pid = read_int(work / "long.pid")
    abandon(first.backend)

    second = Recorder(make_local())
    updates = {u.task_id: u for u in second.backend.recover()}
    # The two that ended were already reported to the first backend; only the running one is left.
    assert set(updates) == {"long"}
    assert updates["long"].state == TaskState.RUNNING
    assert not pid_dead(long_pid)

    second.poll()
    # The adopted task's resources are not offered again.
    assert second.held_sum(AGENT).cpus == pytest.approx(OFFERABLE.cpus - 1.0)
    second.backend.kill("long")
    killed = second.wait_for("long", TaskState.KILLED)
    assert killed.exit_code == 128 + signal.SIGTERM
    wait_until(lambda: pid_dead(long_pid), what="the adopted task to die")


def test_a_task_that_ended_while_no_backend_watched_reports_its_exit_code(
    make_local: MakeLocal, tmp_path: Path, abandon: Callable[[LocalBackend], None]
) -> None:
    first = Recorder(make_local())
    first.poll()
    gate = tmp_path / "gate"
    first.launch(
        [spec("t", AGENT, f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 7", workdir=str(tmp_path))]
    )
    first.wait_for("t", TaskState.RUNNING)
    abandon(first.backend)
    gate.touch()
    state_dir = tmp_path / "data" / "supervise" / "t"
    wait_until(lambda: (state_dir / "exit").exists(), what="the supervisor to record the exit")

    second = make_local()
    (update,) = second.recover()
    assert (update.task_id, update.state, update.exit_code) == ("t", TaskState.FAILED, 7)
    assert not state_dir.exists()
    assert second.recover() == []


def test_a_task_whose_supervisor_died_silently_is_lost_and_its_group_killed(
    make_local: MakeLocal, tmp_path: Path, abandon: Callable[[LocalBackend], None]
) -> None:
    first = Recorder(make_local())
    first.poll()
    first.launch([spec("t", AGENT, "echo $$ > t.pid; exec sleep 60", workdir=str(tmp_path))])
    first.wait_for("t", TaskState.RUNNING)
    task_pid = read_int(tmp_path / "t.pid")
    abandon(first.backend)
    state_dir = tmp_path / "data" / "supervise" / "t"
    spid = read_int(state_dir / "spid")
    os.kill(spid, signal.SIGKILL)
    wait_until(lambda: pid_dead(spid), what="the supervisor to die")

    (update,) = make_local().recover()
    assert update.state == TaskState.FAILED
    assert update.exit_code == 128 + signal.SIGKILL
    wait_until(lambda: pid_dead(task_pid), what="the orphaned task to be killed")


def test_a_task_on_a_node_that_no_longer_exists_is_lost(
    make_local: MakeLocal, tmp_path: Path, abandon: Callable[[LocalBackend], None]
) -> None:
    first = Recorder(make_local(num_nodes=2))
    first.poll()
    second_agent = "local-testhost-2"
    first.launch([spec("t", second_agent, "echo $$ > t.pid; exec sleep 60", workdir=str(tmp_path))])
    first.wait_for("t", TaskState.RUNNING)
    task_pid = read_int(tmp_path / "t.pid")
    abandon(first.backend)

    (update,) = make_local(num_nodes=1).recover()
    assert update.state == TaskState.LOST
    wait_until(lambda: pid_dead(task_pid), what="the task of the vanished node to be killed")


def test_a_task_does_not_inherit_our_settings_but_gets_its_own_env(
    rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's SCALE_* variables (database and broker URLs, with their passwords) are
    not a job's business; the rest of the environment and the spec's own env reach the task."""
    monkeypatch.setenv("SCALE_DATABASE_URL", "postgresql://scale:secret@db/scale")
    monkeypatch.setenv("SCALE_TEST_INHERITED", "no")
    monkeypatch.setenv("OTHER_TEST_VAR", "yes")
    seen = tmp_path / "env.txt"
    rec.launch([spec("t1", AGENT, f"env > {seen}", env={"SCALE_JOB_ID": "7"})])
    rec.wait_for("t1", TaskState.FINISHED)
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["OTHER_TEST_VAR"] == "yes" and env["SCALE_JOB_ID"] == "7"
    assert "SCALE_DATABASE_URL" not in env and "SCALE_TEST_INHERITED" not in env


def test_a_relative_data_dir_is_used_absolutely(
    tmp_path: Path, fake_host: HostTotals, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor runs in the task's working directory: a relative state directory would
    be looked up there (issue 13: ``spid.tmp`` not found, no task could run)."""
    monkeypatch.chdir(tmp_path)
    backend = LocalBackend(Path("rel-data"), host=fake_host, hostname="testhost")
    try:
        r = Recorder(backend)
        r.poll()
        r.launch([spec("t1", AGENT, "echo ok", workdir=str(tmp_path / "elsewhere"))])
        assert r.wait_for("t1", TaskState.FINISHED).exit_code == 0
    finally:
        backend.close()


def test_a_failed_task_reports_its_last_stderr_line(rec: Recorder, tmp_path: Path) -> None:
    err = tmp_path / "err.txt"
    rec.launch([spec("t1", AGENT, "echo first >&2; echo 'the last words' >&2; exit 4", stderr_path=str(err))])
    failed = rec.wait_for("t1", TaskState.FAILED)
    assert failed.exit_code == 4 and failed.stderr_tail == "the last words"
