"""The SIMULATION backend, driven by a FakeClock, and the backend factory."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from scale.backends import BACKEND_NAMES, make_backend
from scale.backends.local import LocalBackend
from scale.backends.offers import FinalUpdates, OfferBook, is_dust
from scale.backends.sim import SimBackend, SimNode, make_sim_nodes
from scale.clock import FakeClock
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import AgentLost, AgentUp, NewOffer, OfferRescinded, TaskSpec, TaskStatus, TaskUpdate
from tests.backends.conftest import Recorder, spec

SMALL = Resources(cpus=4, mem=8192, disk=100_000, gpus=0)
BIG = Resources(cpus=16, mem=65536, disk=500_000, gpus=2)
A1, A2 = "sim-agent-0001", "sim-agent-0002"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> SimBackend:
    return SimBackend([SimNode("small", SMALL), SimNode("big", BIG)], clock=clock)


@pytest.fixture
def rec(sim: SimBackend) -> Recorder:
    """The two-node simulation, polled once so both full offers are held."""
    recorder = Recorder(sim)
    recorder.poll()
    return recorder


def test_register_says_it_is_the_simulation(sim: SimBackend) -> None:
    registration = sim.register()
    assert re.fullmatch(r"scale-sim-[0-9a-f]{8}", registration.framework_id)
    assert registration.master_hostname == "sim-master"
    assert registration.master_port is None
    assert sim.register() == registration


def test_first_poll_announces_agents_then_offers_everything(sim: SimBackend, clock: FakeClock) -> None:
    events = sim.poll()
    assert [type(e) for e in events] == [AgentUp, AgentUp, NewOffer, NewOffer]
    assert [e.agent.hostname for e in events[:2] if isinstance(e, AgentUp)] == ["small", "big"]
    offers = [e.offer for e in events if isinstance(e, NewOffer)]
    assert [(o.agent_id, o.hostname, o.resources) for o in offers] == [(A1, "small", SMALL), (A2, "big", BIG)]
    assert all(o.received == clock.now() for o in offers)
    assert sim.agent_totals() == {A1: SMALL, A2: BIG}
    assert [a.agent_id for a in sim.agents()] == [A1, A2]
    assert sim.poll() == []


def test_duration_and_exit_code_come_from_the_task_env(rec: Recorder, clock: FakeClock) -> None:
    env = {"SCALE_SIM_DURATION": "5", "SCALE_SIM_EXIT_CODE": "2"}
    rec.launch([spec("t1", A1, env=env)])
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING]
    clock.advance(4.9)
    assert rec.poll() == []
    clock.advance(0.1)
    events = rec.poll()
    assert [type(e) for e in events] == [TaskStatus, NewOffer]
    [_, failed] = rec.updates("t1")
    assert (failed.state, failed.exit_code, failed.agent_id) == (TaskState.FAILED, 2, A1)
    assert failed.timestamp == clock.now()
    assert rec.held_sum(A1) == SMALL


def test_default_duration_and_exit_code(clock: FakeClock) -> None:
    rec = Recorder(SimBackend([SimNode("n", SMALL)], clock=clock, default_duration_s=3.0))
    rec.poll()
    rec.launch([spec("t1", A1)])
    clock.advance(2.0)
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING]
    clock.advance(1.0)
    rec.poll()
    assert rec.updates("t1")[-1].state == TaskState.FINISHED
    assert rec.updates("t1")[-1].exit_code == 0


def test_a_task_that_ends_before_the_next_poll_reports_running_then_its_end(rec: Recorder) -> None:
    rec.launch([spec("t1", A1, env={"SCALE_SIM_DURATION": "0"})])
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.FINISHED]


def test_script_decides_duration_and_exit_code(clock: FakeClock) -> None:
    def script(task: TaskSpec) -> tuple[float, int]:
        return (10.0, 7) if task.task_id == "slow" else (1.0, 0)

    rec = Recorder(SimBackend([SimNode("n", SMALL)], clock=clock, script=script))
    rec.poll()
    rec.launch([spec("slow", A1, env={"SCALE_SIM_DURATION": "0"}), spec("fast", A1)])
    clock.advance(1.0)
    rec.poll()
    assert rec.states("fast") == [TaskState.RUNNING, TaskState.FINISHED]
    assert rec.states("slow") == [TaskState.RUNNING]
    clock.advance(9.0)
    rec.poll()
    assert rec.updates("slow")[-1].exit_code == 7


def test_bad_sim_env_fails_the_task_at_launch(rec: Recorder) -> None:
    rec.launch([spec("t1", A1, env={"SCALE_SIM_DURATION": "soon"}), spec("t2", A1)])
    rec.poll()
    [update] = rec.updates("t1")
    assert update.state == TaskState.FAILED
    assert "SCALE_SIM_DURATION" in update.message
    assert rec.states("t2") == [TaskState.RUNNING]


def test_tasks_end_in_end_time_order(rec: Recorder, clock: FakeClock) -> None:
    durations = {"c": "3", "a": "1", "b": "2"}
    rec.launch([spec(t, A2, cpus=1, env={"SCALE_SIM_DURATION": d}) for t, d in durations.items()])
    rec.poll()
    clock.advance(10)
    events = rec.poll()
    ended = [e.update.task_id for e in events if isinstance(e, TaskStatus)]
    assert ended == ["a", "b", "c"]


def test_launch_reoffers_the_remainder_and_only_changed_agents_get_offers(
    rec: Recorder, clock: FakeClock
) -> None:
    rec.launch([spec("t1", A2, cpus=10, mem=1024, gpus=2)])
    events = rec.poll()
    offers = [e.offer for e in events if isinstance(e, NewOffer)]
    assert [(o.agent_id, o.resources) for o in offers] == [(A2, Resources(6, 64512, 500_000, 0))]
    assert rec.held_sum(A1) == SMALL  # untouched agent: still its first offer, nothing new
    clock.advance(1)
    events = rec.poll()
    offers = [e.offer for e in events if isinstance(e, NewOffer)]
    # t1 ended: A2 offers what it freed on top of the offer still held; A1 gets nothing
    assert [(o.agent_id, o.resources) for o in offers] == [(A2, Resources(10, 1024, 0, 2))]
    assert rec.held_sum(A2) == BIG


def test_offers_plus_running_never_exceed_the_total(clock: FakeClock) -> None:
    rng = random.Random(7)
    nodes = make_sim_nodes(20, seed=3)
    sim = SimBackend(nodes, clock=clock)
    rec = Recorder(sim)
    running: dict[str, tuple[str, Resources]] = {}
    totals = {a.agent_id: a.total for a in sim.agents()}
    for round_number in range(40):
        rec.poll()
        for update in rec.updates():
            if update.state != TaskState.RUNNING:
                running.pop(update.task_id, None)
        for agent_id, total in totals.items():
            used = Resources()
            for owner, res in running.values():
                if owner == agent_id:
                    used = used + res
            assert (used + rec.held_sum(agent_id)).fits_in(total)
        for agent_id in rng.sample(sorted(totals), 5):
            held = rec.held_sum(agent_id)
            if held.cpus < 1 or held.mem < 512:
                rec.backend.decline([o.offer_id for o in rec.held_for(agent_id)])
                for offer in rec.held_for(agent_id):
                    del rec.held[offer.offer_id]
                continue
            task_id = f"t{round_number}-{agent_id}"
            need = Resources(cpus=rng.uniform(0.5, held.cpus), mem=rng.uniform(1, held.mem))
            env = {"SCALE_SIM_DURATION": str(rng.uniform(0, 5))}
            task = TaskSpec(task_id=task_id, agent_id=agent_id, resources=need, command="", env=env)
            rec.launch([task])
            running[task_id] = (agent_id, need)
        clock.advance(1)
    assert not [u for u in rec.updates() if u.state == TaskState.FAILED]


def test_refused_launches_fail_every_task_and_return_the_capacity(rec: Recorder) -> None:
    [a1_offer] = [o.offer_id for o in rec.held_for(A1)]
    [a2_offer] = [o.offer_id for o in rec.held_for(A2)]
    rec.backend.launch([a1_offer], [spec("too-big", A1, cpus=5), spec("fine", A1, cpus=1)])
    rec.backend.launch([a1_offer], [spec("used-offer", A1)])
    rec.backend.launch(["nope"], [spec("unknown-offer", A1)])
    rec.backend.launch([a2_offer], [spec("wrong-agent", A1)])
    rec.backend.launch([], [spec("no-offer", A1)])
    rec.held.clear()
    events = rec.poll()
    for task_id in ("too-big", "fine", "used-offer", "unknown-offer", "wrong-agent", "no-offer"):
        [update] = rec.updates(task_id)
        assert update.state == TaskState.FAILED, task_id
        assert update.exit_code is None
        assert update.message.startswith("launch refused"), update.message
    assert "cpus 6 > 4" in rec.updates("too-big")[0].message
    offers = [e.offer for e in events if isinstance(e, NewOffer)]
    assert sorted((o.agent_id, o.resources) for o in offers) == [(A1, SMALL), (A2, BIG)]


def test_decline_returns_capacity_under_a_new_offer_id(rec: Recorder) -> None:
    old_ids = set(rec.held)
    rec.decline_all()
    rec.backend.decline(["never-existed"])  # ignored
    events = rec.poll()
    offers = [e.offer for e in events if isinstance(e, NewOffer)]
    assert [o.resources for o in offers] == [SMALL, BIG]
    assert not old_ids & {o.offer_id for o in offers}


def test_kill_ends_at_once_and_unknown_is_lost(rec: Recorder, clock: FakeClock) -> None:
    rec.launch([spec("t1", A1, env={"SCALE_SIM_DURATION": "100"})])
    rec.poll()
    rec.backend.kill("t1")
    rec.backend.kill("ghost")
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.KILLED]
    assert rec.states("ghost") == [TaskState.LOST]
    assert rec.held_sum(A1) == SMALL
    clock.advance(200)
    assert rec.poll() == []  # its heap entry is skipped, not reported again
    rec.backend.kill("t1")  # already ended: its final update again
    rec.poll()
    assert rec.states("t1")[-1] == TaskState.KILLED


def test_reconcile_answers_running_final_or_lost(rec: Recorder, clock: FakeClock) -> None:
    rec.launch([spec("busy", A2, cpus=1, env={"SCALE_SIM_DURATION": "60"}), spec("done", A2, cpus=1)])
    clock.advance(1)
    rec.poll()
    rec.backend.reconcile(["busy", "done", "ghost"])
    events = rec.poll()
    answers = [(e.update.task_id, e.update.state) for e in events if isinstance(e, TaskStatus)]
    assert answers == [("busy", TaskState.RUNNING), ("done", TaskState.FINISHED), ("ghost", TaskState.LOST)]


def test_lose_agent_rescinds_offers_loses_tasks_and_restore_brings_it_back(
    rec: Recorder, sim: SimBackend, clock: FakeClock
) -> None:
    rec.launch([spec("t1", A2, cpus=1, env={"SCALE_SIM_DURATION": "60"})])
    rec.poll()
    [remainder_id] = [o.offer_id for o in rec.held_for(A2)]
    sim.lose_agent(A2)
    events = rec.poll()
    assert [type(e) for e in events] == [AgentLost, OfferRescinded, TaskStatus]
    assert events[1] == OfferRescinded(remainder_id)
    [lost] = [e.update for e in events if isinstance(e, TaskStatus)]
    assert (lost.task_id, lost.state, lost.agent_id) == ("t1", TaskState.LOST, A2)
    assert rec.held_for(A2) == []
    assert sim.agent_totals() == {A1: SMALL}
    sim.launch([remainder_id], [spec("late", A2)])
    rec.poll()
    assert rec.states("late") == [TaskState.FAILED]
    sim.reconcile(["t1"])
    clock.advance(100)
    rec.poll()
    assert rec.states("t1") == [TaskState.RUNNING, TaskState.LOST, TaskState.LOST]
    sim.lose_agent(A2)  # already lost: nothing
    sim.restore_agent(A2)
    events = rec.poll()
    assert [type(e) for e in events] == [AgentUp, NewOffer]
    assert rec.held_sum(A2) == BIG


def test_restore_under_a_new_agent_id_keeps_the_hostname(rec: Recorder, sim: SimBackend) -> None:
    sim.lose_agent(A1)
    sim.restore_agent(A1, new_agent_id="sim-agent-reborn")
    rec.poll()
    [up] = [e for e in rec.events[-2:] if isinstance(e, AgentUp)]
    assert (up.agent.agent_id, up.agent.hostname) == ("sim-agent-reborn", "small")
    assert set(sim.agent_totals()) == {"sim-agent-reborn", A2}
    with pytest.raises(ValueError):
        sim.lose_agent("no-such-agent")


def test_close_is_idempotent_and_silences_the_backend(rec: Recorder, sim: SimBackend) -> None:
    rec.launch([spec("t1", A1)])
    sim.close()
    sim.close()
    assert sim.poll() == []


def test_make_sim_nodes_gives_mixed_sizes_in_range() -> None:
    nodes = make_sim_nodes(1000)
    assert len(nodes) == 1000
    assert nodes[0].hostname == "sim-node-0001"
    assert nodes[-1].hostname == "sim-node-1000"
    assert len({n.hostname for n in nodes}) == 1000
    for node in nodes:
        assert 4 <= node.total.cpus <= 64
        assert 8 * 1024 <= node.total.mem <= 256 * 1024
        assert 100 * 1024 <= node.total.disk <= 2000 * 1024
        assert node.total.gpus in (0, 1, 2, 4, 8)
    with_gpus = sum(1 for n in nodes if n.total.gpus)
    assert 20 <= with_gpus <= 200
    assert len({n.total.cpus for n in nodes}) > 3
    assert make_sim_nodes(50, seed=1) == make_sim_nodes(50, seed=1)
    assert make_sim_nodes(50, seed=1) != make_sim_nodes(50, seed=2)


def test_duplicate_hostnames_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        SimBackend([SimNode("x", SMALL), SimNode("x", SMALL)])


def test_a_thousand_nodes_and_many_tasks_stay_fast(clock: FakeClock) -> None:
    """A smoke benchmark: no poll may scan every task or every agent."""
    sim = SimBackend(make_sim_nodes(1000), clock=clock)
    rec = Recorder(sim)
    started = time.perf_counter()
    rec.poll()
    launched = 0
    for wave in range(20):
        for offer in list(rec.held.values()):
            if offer.resources.cpus >= 1 and offer.resources.mem >= 256:
                del rec.held[offer.offer_id]
                env = {"SCALE_SIM_DURATION": str(1 + (launched % 7))}
                task = spec(f"w{wave}-{offer.offer_id}", offer.agent_id, cpus=1, mem=256, env=env)
                sim.launch([offer.offer_id], [task])
                launched += 1
        rec.poll()
        clock.advance(1)
    clock.advance(10)
    rec.poll()
    elapsed = time.perf_counter() - started
    ended = [u for u in rec.updates() if u.state == TaskState.FINISHED]
    assert launched > 10_000
    assert len(ended) == launched
    assert elapsed < 15, f"{launched} simulated tasks took {elapsed:.1f}s"


# -- shared bookkeeping --------------------------------------------------------------------------


def test_dust_is_not_offered() -> None:
    assert is_dust(Resources(0.009, 0.9, 0.9, 0.9))
    assert not is_dust(Resources(0.01, 0, 0, 0))
    assert not is_dust(Resources(0, 1, 0, 0))
    assert not is_dust(Resources(0, 0, 0, 1))


def test_offer_book_and_final_updates(clock: FakeClock) -> None:
    book = OfferBook()
    first = book.create("a", "host-a", Resources(1, 2, 3, 0), clock.now())
    second = book.create("a", "host-a", Resources(1, 0, 0, 0), clock.now())
    assert first.offer_id == "a-o1"
    assert book.outstanding("a") == Resources(2, 2, 3, 0)
    taken, unknown = book.take(["a-o1", "a-o1", "zzz"])
    assert (taken, unknown) == ([first], ["zzz"])
    assert book.drop_agent("a") == [second]
    assert len(book) == 0
    finals = FinalUpdates(capacity=2)
    for task_id in ("x", "y", "z"):
        finals.remember(TaskUpdate(task_id, "a", TaskState.FINISHED, clock.now(), 0))
    assert finals.get("x") is None
    assert finals.get("z") is not None


# -- the factory ---------------------------------------------------------------------------------


def test_make_backend_builds_each_backend(tmp_path: Path, clock: FakeClock) -> None:
    assert BACKEND_NAMES == ("local", "sim", "ray")  # ray is built in tests/ray on a real cluster
    sim = make_backend("sim", num_nodes=3, seed=5, clock=clock, data_dir=tmp_path)
    assert isinstance(sim, SimBackend)
    assert sim.name == "sim"
    assert len(sim.agent_totals()) == 3
    local = make_backend("local", data_dir=tmp_path / "data", num_nodes=2, hostname="h")
    try:
        assert isinstance(local, LocalBackend)
        assert sorted(local.agent_totals()) == ["local-h-1", "local-h-2"]
    finally:
        local.close()


def test_make_backend_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="local, sim"):
        make_backend("mesos")
