"""Bookkeeping both backends share: outstanding offers, launch checks, remembered final updates.

The backend contract (DESIGN §4) is Mesos-shaped: a backend offers capacity, the scheduler
consumes offers with ``launch`` or returns them with ``decline``. The rules that decide what
may be offered and whether a launch is acceptable are the same whether tasks are real
processes or simulated ones, so they live here once. Nothing in this module is thread-safe:
each backend guards it with its own lock.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from scale.domain.resources import ZERO, Resources
from scale.domain.tasks import Offer, TaskSpec, TaskUpdate

#: How many ended tasks' final updates a backend keeps to answer ``reconcile`` and ``kill``.
FINAL_UPDATES_KEPT = 10_000

#: Below all of these at once, capacity is too small to be worth an offer.
_DUST_CPUS = 0.01
_DUST_MEM = 1.0
_DUST_DISK = 1.0
_DUST_GPUS = 1.0


def new_framework_id(backend_name: str) -> str:
    """A fresh framework id, ``scale-<backend>-<8 hex>``, unique per backend instance."""
    return f"scale-{backend_name}-{secrets.token_hex(4)}"


def is_dust(resources: Resources) -> bool:
    """True when nothing in ``resources`` is worth offering.

    Float arithmetic on running totals leaves crumbs such as 1e-15 cpus; offering those would
    wake the scheduler for capacity no task can use.
    """
    return (
        resources.cpus < _DUST_CPUS
        and resources.mem < _DUST_MEM
        and resources.disk < _DUST_DISK
        and resources.gpus < _DUST_GPUS
    )


class OfferBook:
    """The offers a backend has made and that are still outstanding, indexed by id and by agent.

    An offer stays outstanding until ``take`` (launch or decline) or ``drop_agent`` (agent lost)
    removes it. Offer ids are ``<agent id>-o<n>`` with one counter per book, so an id is never
    reused even after an agent comes back.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Offer] = {}
        self._by_agent: dict[str, dict[str, Offer]] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, offer_id: object) -> bool:
        return offer_id in self._by_id

    def create(self, agent_id: str, hostname: str, resources: Resources, received: datetime) -> Offer:
        """Record and return a new outstanding offer."""
        self._counter += 1
        offer = Offer(
            offer_id=f"{agent_id}-o{self._counter}",
            agent_id=agent_id,
            hostname=hostname,
            resources=resources,
            received=received,
        )
        self._by_id[offer.offer_id] = offer
        self._by_agent.setdefault(agent_id, {})[offer.offer_id] = offer
        return offer

    def outstanding(self, agent_id: str) -> Resources:
        """The sum of the agent's outstanding offers, summed afresh so no rounding drift builds up."""
        offers = self._by_agent.get(agent_id)
        if not offers:
            return ZERO
        return sum_resources(offer.resources for offer in offers.values())

    def offers_of(self, agent_id: str) -> list[Offer]:
        return list(self._by_agent.get(agent_id, {}).values())

    def all(self) -> list[Offer]:
        return list(self._by_id.values())

    def take(self, offer_ids: Iterable[str]) -> tuple[list[Offer], list[str]]:
        """Remove the named offers; return those that were outstanding and the ids that were not.

        Duplicate ids count once. Known offers are removed even when some ids are unknown: the
        contract says every offer named in a launch or decline is used up either way.
        """
        taken: list[Offer] = []
        unknown: list[str] = []
        for offer_id in dict.fromkeys(offer_ids):
            offer = self._by_id.pop(offer_id, None)
            if offer is None:
                unknown.append(offer_id)
                continue
            agent_offers = self._by_agent.get(offer.agent_id)
            if agent_offers is not None:
                agent_offers.pop(offer_id, None)
                if not agent_offers:
                    del self._by_agent[offer.agent_id]
            taken.append(offer)
        return taken, unknown

    def drop_agent(self, agent_id: str) -> list[Offer]:
        """Remove and return every outstanding offer of an agent (it was lost)."""
        offers = self._by_agent.pop(agent_id, {})
        for offer_id in offers:
            self._by_id.pop(offer_id, None)
        return list(offers.values())

    def clear(self) -> None:
        self._by_id.clear()
        self._by_agent.clear()


def sum_resources(items: Iterable[Resources]) -> Resources:
    """Sum resource vectors with plain floats (faster than chaining ``Resources.__add__``)."""
    cpus = mem = disk = gpus = 0.0
    for item in items:
        cpus += item.cpus
        mem += item.mem
        disk += item.disk
        gpus += item.gpus
    return Resources(cpus, mem, disk, gpus)


def free_to_offer(offerable: Resources, running: Resources, offered: Resources) -> Resources | None:
    """What an agent may newly offer: offerable minus running minus outstanding, or None if dust."""
    free = (offerable - running - offered).clamp_non_negative()
    return None if is_dust(free) else free


def check_launch(
    offers: Sequence[Offer],
    unknown_offer_ids: Sequence[str],
    tasks: Sequence[TaskSpec],
    *,
    needs: Callable[[TaskSpec], Resources],
) -> str | None:
    """Why a launch must be refused, or None when it is acceptable.

    ``needs`` gives what a task will hold on its agent (a backend may round a request up, as
    the local backend does for whole GPUs). The checks, in order: every offer id is known,
    there is at least one offer, all offers are from one agent, every task names that agent,
    task ids are distinct, and the tasks' summed needs fit in the offers' sum.
    """
    if unknown_offer_ids:
        unknown = ", ".join(unknown_offer_ids)
        return f"launch refused: unknown offer id(s) (rescinded, declined or already used): {unknown}"
    if not offers:
        return "launch refused: no offer named"
    agent_ids = sorted({offer.agent_id for offer in offers})
    if len(agent_ids) > 1:
        return "launch refused: offers from more than one agent: " + ", ".join(agent_ids)
    agent_id = agent_ids[0]
    wrong = sorted({task.agent_id for task in tasks if task.agent_id != agent_id})
    if wrong:
        return f"launch refused: task names agent(s) {', '.join(wrong)} but the offers are from {agent_id}"
    ids = [task.task_id for task in tasks]
    if len(set(ids)) != len(ids):
        return "launch refused: the same task id appears twice in one launch"
    needed = sum_resources(needs(task) for task in tasks)
    offered = sum_resources(offer.resources for offer in offers)
    short = needed.shortfalls(offered)
    if short:
        detail = ", ".join(f"{name} {getattr(needed, name):g} > {getattr(offered, name):g}" for name in short)
        return f"launch refused: tasks need more than the offers hold ({detail})"
    return None


class FinalUpdates:
    """The final update of recently ended tasks, oldest forgotten first.

    ``reconcile`` must answer an ended task's true end state; a task we no longer remember
    comes back LOST, which the scheduler already has to handle for tasks of a lost agent.
    """

    def __init__(self, capacity: int = FINAL_UPDATES_KEPT) -> None:
        self._capacity = capacity
        self._updates: OrderedDict[str, TaskUpdate] = OrderedDict()

    def __len__(self) -> int:
        return len(self._updates)

    def remember(self, update: TaskUpdate) -> None:
        self._updates[update.task_id] = update
        self._updates.move_to_end(update.task_id)
        while len(self._updates) > self._capacity:
            self._updates.popitem(last=False)

    def get(self, task_id: str) -> TaskUpdate | None:
        return self._updates.get(task_id)

    def forget(self, task_id: str) -> None:
        self._updates.pop(task_id, None)
