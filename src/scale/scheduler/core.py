"""The scheduler: the one owner of live cluster state.

It applies backend events, runs the pure scheduling pass, launches what the plan says, ends
executions, sends command messages, and builds the status. Each loop of DESIGN §5 is one
``*_tick(now)`` method here; ``loops()`` hands them to a ``LoopRunner``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scale.domain import seed
from scale.domain.messages import CompletedJob, EndsOutbox, FailedJob, JobExeEnd, RestartScheduler
from scale.domain.resources import ZERO, Resources
from scale.domain.states import ErrorCategory, ExecutionStatus, QueueMode, TaskKind, TaskState
from scale.domain.tasks import (
    Agent,
    AgentLost,
    AgentUp,
    BackendEvent,
    NewOffer,
    OfferRescinded,
    Registration,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from scale.scheduler.executions import (
    PRE_POST_TIMEOUT_S,
    PULL_TIMEOUT_S,
    Outcome,
    RunningExecution,
    TaskPlan,
    container_name,
)
from scale.scheduler.loop import Loop
from scale.scheduler.metrics import BLOCK, WINDOW, FinishedExecution, FinishedMetrics, RateCounters
from scale.scheduler.node_state import NodeFacts, NodeState, derive_node_state
from scale.scheduler.node_tasks import (
    HEALTH_PERIOD,
    HEALTH_RETRY,
    MIN_FREE_DISK_MB,
    NODE_TASK_RESOURCES,
    NodeTaskPlan,
    NodeTasks,
)
from scale.scheduler.offers import EMPTY_BREAKDOWN, AgentResources
from scale.scheduler.planning import PlanInput, PlanNode, RunningWork, WaitingTask, schedule_pass
from scale.scheduler.ports import (
    Backend,
    Clock,
    ErrorRecord,
    HandlerPool,
    JobTypeRecord,
    NewExecution,
    NodeRecord,
    QueueProbe,
    QueueStats,
    SchedulerSettings,
    SchedulerStore,
)
from scale.scheduler.status import NodeView, StatusInputs, build_status, format_time
from scale.scheduler.system_tasks import SYSTEM_TASK_RESOURCES, SystemTaskKind, SystemTasks
from scale.scheduler.warnings import SchedulerWarnings

log = logging.getLogger(__name__)

_TERMINAL = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED})
#: The task kinds of a job execution, as they appear at the end of its task ids.
_TASK_KINDS = frozenset(kind.value for kind in TaskKind)


@dataclass(frozen=True)
class SchedulerConfig:
    """Plain values the core needs (the core never sees ``Settings``)."""

    hostname: str
    data_dir: str
    python: str = sys.executable
    scheduling_s: float = 1.0
    sync_s: float = 10.0
    status_s: float = 5.0
    task_handling_s: float = 5.0
    reconciliation_s: float = 1.0
    messaging_s: float = 1.0
    staging_timeout_s: float = 120.0
    starvation_s: float = 600.0
    recon_staging_s: float = 30.0
    recon_running_s: float = 600.0
    full_recon_s: float = 120.0
    queue_window: int = 1000
    #: when False, executions run ``main`` only (benchmarks on the sim backend)
    pre_post_tasks: bool = True
    #: when False, no health-check or cleanup node tasks run (benchmarks)
    node_tasks: bool = True
    #: a health check below this much free disk (MiB) in the data directory degrades the node
    min_free_disk_mb: float = MIN_FREE_DISK_MB
    #: where job types run: ``process`` or ``docker`` (a job type's Seed tag may override it)
    runtime: str = "process"
    #: node health checks: the period after a finished check, and after a failed one
    health_period_s: float = HEALTH_PERIOD.total_seconds()
    health_retry_s: float = HEALTH_RETRY.total_seconds()
    #: when True, message handlers and the database update run as system tasks on the nodes
    #: (``scale message-handler``, ``scale db-update``); when False (the sim backend, where
    #: nothing runs) the in-process ``HandlerPool`` applies the messages
    system_tasks: bool = False
    #: environment of the system tasks: how they reach the database (and broker)
    system_task_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class JobTypeInfo:
    record: JobTypeRecord
    manifest: seed.SeedManifest | None
    error_mapping: dict[int, str] = field(default_factory=dict)

    def status_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "id": r.id,
            "name": r.name,
            "version": r.version,
            "title": r.title,
            "description": r.description,
            "is_system": r.is_system,
            "icon_code": r.icon_code,
        }


def _allocated_env(res: Resources) -> dict[str, str]:
    return {
        "ALLOCATED_CPUS": f"{res.cpus:g}",
        "ALLOCATED_MEM": f"{res.mem:g}",
        "ALLOCATED_DISK": f"{res.disk:g}",
        "ALLOCATED_GPUS": f"{res.gpus:g}",
    }


#: Seed tags by which a job type picks its runtime over the scheduler's ``--runtime``.
RUNTIME_TAGS: Mapping[str, str] = {"runtime:docker": "docker", "runtime:process": "process"}


def _container_image(runtime: str, info: JobTypeInfo) -> str | None:
    """The image this job type's executions run in, or None for the process runtime.

    System job types (Scale's own commands) and job types without a ``docker_image`` always
    run as processes."""
    for tag in info.manifest.tags if info.manifest else ():
        runtime = RUNTIME_TAGS.get(tag, runtime)
    if runtime != "docker" or info.record.is_system or not info.record.docker_image:
        return None
    return info.record.docker_image


class Scheduler:
    def __init__(
        self,
        *,
        backend: Backend,
        store: SchedulerStore,
        clock: Clock,
        handlers: HandlerPool,
        config: SchedulerConfig,
        queue_probe: QueueProbe | None = None,
    ) -> None:
        #: the message transport, sampled outside the status build so a slow broker never
        #: makes the status stale; without one the backlog is counted in the database
        self.queue_probe = queue_probe
        self.backend = backend
        self.store = store
        self.clock = clock
        self.handlers = handlers
        self.config = config
        self.registration: Registration | None = None
        self.settings = SchedulerSettings()
        self.agents: dict[str, Agent] = {}
        self.online: set[str] = set()
        self.agent_resources: dict[str, AgentResources] = {}
        self.nodes: dict[int, NodeRecord] = {}
        self.node_by_agent: dict[str, int] = {}
        self.job_types: dict[int, JobTypeInfo] = {}
        self.errors: dict[tuple[str | None, str], ErrorRecord] = {}
        self.executions: dict[int, RunningExecution] = {}
        self.task_owner: dict[str, int] = {}
        self.rates = RateCounters(clock.monotonic())
        self.last_status_build_s = 0.0
        self.finished = FinishedMetrics()
        self.db_update_completed: datetime | None = None
        self.outbox = EndsOutbox()
        self.unplaced_written: dict[int, dict[str, int]] = {}
        self.recon_asked: dict[str, datetime] = {}
        self.last_full_recon: datetime | None = None
        self.passes = 0
        self.warnings = SchedulerWarnings()
        self.node_tasks: dict[int, NodeTasks] = {}
        self.node_task_owner: dict[str, int] = {}
        self.last_explained: datetime | None = None
        self.system_tasks = SystemTasks(framework_id="scale", run_db_update=config.system_tasks)

    # ------------------------------------------------------------------ start-up and sync

    def start(self, now: datetime, *, db_update_completed: datetime | None = None) -> None:
        """Register with the backend, load state from the database, queue the restart message."""
        self.registration = self.backend.register()
        self.store.save_registration(self.registration)
        self.system_tasks.framework_id = self.registration.framework_id
        self.db_update_completed = db_update_completed
        self.sync_tick(now)
        for fin in self.store.load_finished_since(now - WINDOW - BLOCK):
            self.finished.add(fin, now)
        self._adopt(now)
        self.store.send([RestartScheduler(now)])

    def _adopt(self, now: datetime) -> None:
        """Take over the work an earlier scheduler left running (DESIGN §4, reconciliation).

        Each execution the database says is running is matched with the tasks the backend still
        has (``Backend.recover``) by its cluster id. A match is adopted: it continues from that
        task, which is not run again, and its end is counted once, when it comes. An execution
        with no task left ends FAILED with ``scheduler-lost`` and its job is retried when the
        error allows. A recovered task that belongs to no running execution (a node task, a
        system task, a stale job task) is killed: its owner will start a new one if needed.
        """
        recovered = self.backend.recover()
        by_cluster: dict[str, TaskUpdate] = {}
        strays: list[TaskUpdate] = []
        for recovered_update in recovered:
            cluster_id, _, rest = recovered_update.task_id.rpartition("_")
            if rest.startswith("lost-"):
                cluster_id, _, rest = cluster_id.rpartition("_")
            if cluster_id.startswith("scale_job_") and rest in _TASK_KINDS:
                by_cluster[cluster_id] = recovered_update
            else:
                strays.append(recovered_update)
        for row in self.store.load_unfinished_executions():
            info = self.job_types.get(row.job_type_id)
            node = self.nodes.get(row.node_id)
            update = by_cluster.pop(row.cluster_id, None)
            exe = RunningExecution(
                job_exe_id=row.job_exe_id,
                job_id=row.job_id,
                exe_num=row.exe_num,
                job_type_id=row.job_type_id,
                node_id=row.node_id,
                agent_id=update.agent_id if update is not None else (node.agent_id if node else ""),
                cluster_id=row.cluster_id,
                priority=row.priority,
                resources=row.resources,
                started=row.started,
                tasks=(
                    self._task_plans(info, row.input, row.resources)
                    if info is not None and info.manifest is not None
                    else []
                ),
                error_mapping=info.error_mapping if info is not None else {},
                is_system=info.record.is_system if info is not None else False,
                workdir=os.path.join(self._exe_root(node.hostname if node else "unknown"), row.cluster_id),
            )
            kinds = [plan.kind.value for plan in exe.tasks]
            kind = update.task_id.removeprefix(row.cluster_id + "_").split("_lost-")[0] if update else ""
            if update is None or kind not in kinds:
                if update is not None:
                    strays.append(update)
                exe.finish(ExecutionStatus.FAILED, "scheduler-lost", now)
                self._execution_ended(exe, now)
                continue
            exe.index = kinds.index(kind)
            lost = update.task_id.rpartition("_lost-")
            exe.lost_count = int(lost[2]) if lost[1] and lost[2].isdigit() else 0
            exe.launched(update.task_id, now)
            self.executions[exe.job_exe_id] = exe
            self.task_owner[update.task_id] = exe.job_exe_id
            self._on_task_update(update, now)
        strays.extend(by_cluster.values())
        for stray in strays:
            if stray.state not in (TaskState.RUNNING, TaskState.STAGING):
                continue
            # A message handler is the same whoever started it: keep it (a handler gap would stall
            # every job's bookkeeping). Anything else left over is stopped.
            if not (self.config.system_tasks and self.system_tasks.adopt(stray.task_id, stray.agent_id, now)):
                self.backend.kill(stray.task_id)

    def sync_tick(self, now: datetime) -> None:
        """Re-read runtime settings, job types, errors and nodes (DESIGN §5 sync loop)."""
        self.settings = self.store.load_settings()
        self._refresh_catalog()
        self._refresh_nodes()
        self._check_cancellations(now)
        if self.config.system_tasks:
            self.system_tasks.desired_handlers = self.settings.num_message_handlers
            for task_id in self.system_tasks.extras():
                self.backend.kill(task_id)
        else:
            self.handlers.resize(self.settings.num_message_handlers)

    def _check_cancellations(self, now: datetime) -> None:
        """Kill the running executions of jobs an operator canceled (one query for all)."""
        running = {exe.job_id: exe for exe in self.executions.values() if not exe.canceled}
        for job_id in self.store.load_canceled(sorted(running)):
            exe = running[job_id]
            if exe.cancel(now):
                self._execution_ended(exe, now)
            elif exe.task_id is not None:
                self.backend.kill(exe.task_id)

    def _refresh_nodes(self) -> None:
        """Operator changes to nodes (pause, deprecate): one small query, also run before every
        status build so a node's new state shows within one status period."""
        for record in self.store.load_nodes():
            self.nodes[record.node_id] = record
            if record.agent_id and record.agent_id in self.agents:
                self.node_by_agent[record.agent_id] = record.node_id

    def _refresh_catalog(self) -> None:
        """Job types and the errors they map to, re-read together so they always agree."""
        self._load_job_types(self.store.load_job_types())
        self.errors = {(e.job_type_name, e.name): e for e in self.store.load_errors()}

    def _load_job_types(self, records: list[JobTypeRecord]) -> None:
        fresh: dict[int, JobTypeInfo] = {}
        for record in records:
            old = self.job_types.get(record.id)
            if old is not None and old.record.revision_num == record.revision_num and old.record == record:
                fresh[record.id] = old
                continue
            try:
                manifest: seed.SeedManifest | None = seed.parse_manifest(record.manifest)
            except seed.ManifestError:
                log.warning("job type %s %s has an invalid manifest", record.name, record.version)
                manifest = None
            mapping = {m.code: m.name for m in manifest.errors} if manifest else {}
            fresh[record.id] = JobTypeInfo(record, manifest, mapping)
        self.job_types = fresh

    # ------------------------------------------------------------------ backend events

    def _apply_events(self, events: list[BackendEvent], now: datetime) -> None:
        # The agents that came up are registered together, up front (one transaction).
        ups = [event.agent for event in events if isinstance(event, AgentUp)]
        registered = iter(self.store.register_nodes([(a.hostname, a.agent_id) for a in ups], now))
        for event in events:
            if isinstance(event, TaskStatus):
                self._on_task_update(event.update, now)
            elif isinstance(event, NewOffer):
                offer = event.offer
                resources = self.agent_resources.get(offer.agent_id)
                if resources is None or offer.agent_id not in self.online:
                    self.backend.decline([offer.offer_id])
                    continue
                resources.add_offer(offer)
                self.rates.add("new_offers_per_sec")
            elif isinstance(event, OfferRescinded):
                for resources in self.agent_resources.values():
                    if resources.remove_offer(event.offer_id) is not None:
                        break
            elif isinstance(event, AgentUp):
                self._on_agent_up(event.agent, next(registered), now)
            elif isinstance(event, AgentLost):
                self.online.discard(event.agent_id)
                self.system_tasks.on_agent_lost(event.agent_id)
                lost = self.agent_resources.pop(event.agent_id, None)
                if lost is not None:
                    lost.offers.clear()

    def _on_agent_up(self, agent: Agent, record: NodeRecord, now: datetime) -> None:
        self.agents[agent.agent_id] = agent
        self.online.add(agent.agent_id)
        self.nodes[record.node_id] = record
        for agent_id, node_id in list(self.node_by_agent.items()):
            if node_id == record.node_id and agent_id != agent.agent_id:
                del self.node_by_agent[agent_id]
        self.node_by_agent[agent.agent_id] = record.node_id
        self.agent_resources[agent.agent_id] = AgentResources(agent.agent_id, agent.total, now)
        tasks = self.node_tasks.get(record.node_id)
        if tasks is None:
            self.node_tasks[record.node_id] = NodeTasks(
                node_id=record.node_id,
                python=self.config.python,
                data_dir=self.config.data_dir,
                exe_root=self._exe_root(record.hostname),
                min_free_mb=self.config.min_free_disk_mb,
                runtime=self.config.runtime,
                health_period=timedelta(seconds=self.config.health_period_s),
                health_retry=timedelta(seconds=self.config.health_retry_s),
                initial_cleanup_done=not self.config.node_tasks,
                hostname=record.hostname,
            )
        elif self.config.node_tasks:
            tasks.reset()
            for task_id in list(tasks.running):
                self.node_task_owner.pop(task_id, None)
            tasks.running.clear()

    def _hostname_of(self, agent_id: str) -> str:
        node_id = self.node_by_agent.get(agent_id)
        record = self.nodes.get(node_id) if node_id is not None else None
        return record.hostname if record is not None else agent_id

    def _raise_crash_warnings(self, now: datetime) -> None:
        """Scheduler warnings for system and node tasks failing again and again, cleared as
        soon as their loop ends (not an hour later as other warnings)."""
        found = self.system_tasks.crash_warnings()
        for tasks in self.node_tasks.values():
            found.extend(tasks.crash_warnings())
        self.warnings.replace_group("TASK_FAILING_", [(w.name, w.title, w.description) for w in found], now)

    def _exe_root(self, hostname: str) -> str:
        """Execution directories per node, so one node's cleanup never touches another's work."""
        return os.path.join(self.config.data_dir, "executions", hostname)

    def _on_task_update(self, update: TaskUpdate, now: datetime) -> None:
        self.rates.add("task_updates_per_sec")
        if update.state in _TERMINAL:
            self.rates.add("tasks_finished_per_sec")
        self.recon_asked.pop(update.task_id, None)
        if self.system_tasks.owns(update.task_id):
            self.system_tasks.on_update(update, now, self._hostname_of(update.agent_id))
            return
        node_id = self.node_task_owner.get(update.task_id)
        if node_id is not None:
            if update.state in _TERMINAL or update.state == TaskState.LOST:
                self.node_task_owner.pop(update.task_id, None)
            tasks = self.node_tasks.get(node_id)
            if tasks is not None:
                tasks.on_update(update, now)
            return
        exe_id = self.task_owner.get(update.task_id)
        if exe_id is None:
            return
        exe = self.executions.get(exe_id)
        if exe is None:
            self.task_owner.pop(update.task_id, None)
            return
        if update.state in _TERMINAL or update.state == TaskState.LOST:
            self.task_owner.pop(update.task_id, None)
        outcome = exe.apply(update)
        if outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELED):
            if outcome != Outcome.CANCELED:
                self.rates.add("jobs_finished_per_sec")
            self._execution_ended(exe, now)

    # ------------------------------------------------------------------ executions

    def _resolve_error(self, exe: RunningExecution) -> ErrorRecord | None:
        if exe.error_name is None:
            return None
        if exe.error_is_mapped:
            info = self.job_types.get(exe.job_type_id)
            if info is not None:
                mapped = self.errors.get((info.record.name, exe.error_name))
                if mapped is not None:
                    return mapped
        return self.errors.get((None, exe.error_name)) or self.errors.get((None, "unknown"))

    def _execution_ended(self, exe: RunningExecution, now: datetime) -> None:
        """Record the end of an execution: metrics, and the messages that update the database."""
        self.executions.pop(exe.job_exe_id, None)
        if exe.task_id is not None:
            self.task_owner.pop(exe.task_id, None)
        ended = exe.ended or now
        tasks = self.node_tasks.get(exe.node_id)
        if tasks is not None and self.config.node_tasks:
            tasks.add_finished_execution(exe.cluster_id, now)
        error = self._resolve_error(exe) if exe.status == ExecutionStatus.FAILED else None
        category = error.category if error else (ErrorCategory.SYSTEM if exe.error_name else None)
        self.finished.add(FinishedExecution(exe.node_id, exe.job_type_id, exe.status, category, ended), now)
        self.outbox.exe_ends.append(
            JobExeEnd(
                job_exe_id=exe.job_exe_id,
                job_id=exe.job_id,
                exe_num=exe.exe_num,
                job_type_id=exe.job_type_id,
                node_id=exe.node_id,
                status=exe.status.value,
                error_id=error.id if error else None,
                error_category=category.value if category else None,
                exit_code=exe.exit_code,
                task_results=tuple(exe.task_results),
                started=exe.started,
                ended=ended,
            )
        )
        if exe.status == ExecutionStatus.COMPLETED:
            self.outbox.completed.append(CompletedJob(exe.job_id, exe.exe_num, exe.node_id, ended))
        elif exe.status == ExecutionStatus.FAILED:
            error_id = error.id if error else None
            self.outbox.failed.append(FailedJob(exe.job_id, exe.exe_num, exe.node_id, ended, error_id))

    def _fail_execution(self, exe: RunningExecution, error_name: str, now: datetime, *, kill: bool) -> None:
        if kill and exe.task_id is not None:
            self.backend.kill(exe.task_id)
        exe.finish(ExecutionStatus.FAILED, error_name, now)
        self._execution_ended(exe, now)

    def _node_usable_for(self, exe: RunningExecution) -> bool:
        node = self.nodes.get(exe.node_id)
        return (
            node is not None
            and node.is_active
            and exe.agent_id in self.online
            and self.node_by_agent.get(exe.agent_id) == exe.node_id
        )

    def _fail_lost_executions(self, now: datetime) -> None:
        for exe in list(self.executions.values()):
            if not self._node_usable_for(exe):
                self._fail_execution(exe, "node-lost", now, kill=True)

    def _task_plans(self, info: JobTypeInfo, job_input: Mapping[str, Any], res: Resources) -> list[TaskPlan]:
        manifest = info.manifest
        assert manifest is not None
        json_inputs = job_input.get("json") or {}
        values = seed.command_values(manifest, json_inputs)
        env = {**seed.job_environment(manifest, json_inputs), **_allocated_env(res)}
        command = seed.render_command(manifest.command, values)
        py = shlex.quote(self.config.python)
        image = _container_image(self.config.runtime, info)
        if image is not None:
            # The container runner (runtime/docker.py) passes exactly these variables in.
            env["SCALE_CONTAINER_ENV"] = ",".join(sorted(env))
            command = f"{py} -m scale.runtime run {shlex.quote(image)} {shlex.quote(command)}"
        main = TaskPlan(
            TaskKind.MAIN,
            command,
            res,
            None if info.record.is_system and manifest.timeout <= 0 else float(manifest.timeout),
            env,
            image,
        )
        if info.record.is_system or not self.config.pre_post_tasks:
            return [main]
        task_env = {"SCALE_JOB_INPUT": json.dumps(job_input, sort_keys=True)}
        pre = TaskPlan(TaskKind.PRE, f"{py} -m scale.taskrunner pre", res, PRE_POST_TIMEOUT_S, task_env)
        post_res = Resources(res.cpus, res.mem, 0.0, res.gpus)
        post = TaskPlan(
            TaskKind.POST, f"{py} -m scale.taskrunner post", post_res, PRE_POST_TIMEOUT_S, task_env
        )
        if image is None:
            return [pre, main, post]
        pull_command = f"{py} -m scale.runtime pull {shlex.quote(image)}"
        pull_res = Resources(res.cpus, res.mem)
        pull = TaskPlan(TaskKind.PULL, pull_command, pull_res, PULL_TIMEOUT_S, image=image)
        return [pull, pre, main, post]

    def _task_spec(self, exe: RunningExecution) -> TaskSpec:
        plan = exe.current
        assert plan is not None
        task_id = exe.next_task_id()
        env = {
            **plan.env,
            "SCALE_JOB_ID": str(exe.job_id),
            "SCALE_EXE_NUM": str(exe.exe_num),
            "SCALE_JOB_EXE_ID": str(exe.job_exe_id),
            "SCALE_TASK_TYPE": plan.kind.value,
            "OUTPUT_DIR": os.path.join(exe.workdir, "outputs"),
        }
        if plan.image:
            env["SCALE_CONTAINER_NAME"] = container_name(exe.cluster_id)
        logs = os.path.join(exe.workdir, "logs")
        return TaskSpec(
            task_id=task_id,
            agent_id=exe.agent_id,
            resources=plan.resources,
            command=plan.command,
            env=env,
            workdir=exe.workdir,
            stdout_path=os.path.join(logs, f"{plan.kind.value}.stdout"),
            stderr_path=os.path.join(logs, f"{plan.kind.value}.stderr"),
            image=plan.image,
        )

    # ------------------------------------------------------------------ the scheduling pass

    def _node_state(self, record: NodeRecord) -> NodeState:
        online = (
            bool(record.agent_id)
            and record.agent_id in self.online
            and (self.node_by_agent.get(record.agent_id) == record.node_id)
        )
        tasks = self.node_tasks.get(record.node_id)
        return derive_node_state(
            NodeFacts(
                is_active=record.is_active,
                is_online=online,
                is_paused=record.is_paused,
                scheduler_paused=self.settings.is_paused,
                has_errors=tasks.has_errors() if tasks else False,
                initial_cleanup_done=tasks.initial_cleanup_done if tasks else True,
            )
        )

    def _running_by_agent(self) -> dict[str, Resources]:
        running: dict[str, Resources] = {}
        for exe in self.executions.values():
            plan = exe.current
            if exe.task_id is not None and plan is not None:
                running[exe.agent_id] = running.get(exe.agent_id, ZERO) + plan.resources
        for agent_id, node_id in self.node_by_agent.items():
            tasks = self.node_tasks.get(node_id)
            if tasks is not None and tasks.running:
                extra = NODE_TASK_RESOURCES.scaled(len(tasks.running))
                running[agent_id] = running.get(agent_id, ZERO) + extra
        for task in self.system_tasks.tasks.values():
            running[task.agent_id] = running.get(task.agent_id, ZERO) + SYSTEM_TASK_RESOURCES
        return running

    def _place_node_tasks(self, now: datetime) -> tuple[dict[str, list[NodeTaskPlan]], dict[str, Resources]]:
        """Node tasks go before any job work, each taking 0.1 cpu and 32 MiB of its node's offers."""
        placed: dict[str, list[NodeTaskPlan]] = {}
        used: dict[str, Resources] = {}
        if not self.config.node_tasks:
            return placed, used
        framework = self.registration.framework_id if self.registration else "scale"
        in_use: dict[int, list[str]] = defaultdict(list)
        for exe in self.executions.values():
            in_use[exe.node_id].append(exe.cluster_id)
        for agent_id, resources in self.agent_resources.items():
            node_id = self.node_by_agent.get(agent_id)
            record = self.nodes.get(node_id) if node_id is not None else None
            tasks = self.node_tasks.get(node_id) if node_id is not None else None
            if record is None or tasks is None or agent_id not in self.online or not record.is_active:
                continue
            paused = record.is_paused or self.settings.is_paused
            room = resources.offered
            for plan in tasks.due(now, framework=framework, paused=paused, keep=in_use[record.node_id]):
                if not NODE_TASK_RESOURCES.fits_in(room):
                    break
                room = room - NODE_TASK_RESOURCES
                placed.setdefault(agent_id, []).append(plan)
                used[agent_id] = used.get(agent_id, ZERO) + NODE_TASK_RESOURCES
        return placed, used

    def _place_system_tasks(
        self, now: datetime, used: dict[str, Resources]
    ) -> tuple[dict[str, list[TaskSpec]], bool]:
        """Place the missing system tasks, each on the READY node with the fewest system tasks
        that has room left after node tasks (``used`` grows by what is placed here).

        Unlike the original, PAUSED-by-the-scheduler and DEGRADED nodes take them too (READY
        ones first): while the scheduler is paused or every node is degraded, running jobs still
        finish and their messages must still be applied. Returns the specs per agent and whether
        any task is still waiting for a place.
        """
        specs: dict[str, list[TaskSpec]] = defaultdict(list)
        if not self.config.system_tasks:
            return specs, False
        missing = self.system_tasks.missing(now)
        if not missing:
            return specs, False
        candidates: list[tuple[str, Resources]] = []
        ready_first: dict[str, int] = {}
        for agent_id, resources in self.agent_resources.items():
            node_id = self.node_by_agent.get(agent_id)
            record = self.nodes.get(node_id) if node_id is not None else None
            if record is None or agent_id not in self.online:
                continue
            state = self._node_state(record)
            if state in (NodeState.READY, NodeState.SCHEDULER_STOPPED, NodeState.DEGRADED):
                candidates.append((agent_id, resources.offered - used.get(agent_id, ZERO)))
                ready_first[agent_id] = 0 if state == NodeState.READY else 1
        placed = 0
        for kind in missing:
            fits = [(a, room) for a, room in candidates if SYSTEM_TASK_RESOURCES.fits_in(room)]
            if not fits:
                break
            agent_id, _ = min(
                fits,
                key=lambda c: (
                    ready_first[c[0]],
                    self.system_tasks.count_on(c[0]) + len(specs[c[0]]),
                    -c[1].cpus,
                    c[0],
                ),
            )
            task_id = self.system_tasks.launched(kind, agent_id, now)
            specs[agent_id].append(self._system_task_spec(agent_id, task_id, kind))
            used[agent_id] = used.get(agent_id, ZERO) + SYSTEM_TASK_RESOURCES
            candidates = [
                (a, room - SYSTEM_TASK_RESOURCES if a == agent_id else room) for a, room in candidates
            ]
            placed += 1
        return specs, placed < len(missing)

    def _system_task_spec(self, agent_id: str, task_id: str, kind: SystemTaskKind) -> TaskSpec:
        workdir = os.path.join(self.config.data_dir, "system-tasks")
        return TaskSpec(
            task_id=task_id,
            agent_id=agent_id,
            resources=SYSTEM_TASK_RESOURCES,
            command=SystemTasks.command(kind, self.config.python),
            env={**self.config.system_task_env, "SCALE_TASK_TYPE": kind.value},
            workdir=workdir,
            stdout_path=os.path.join(workdir, f"{task_id}.stdout"),
            stderr_path=os.path.join(workdir, f"{task_id}.stderr"),
        )

    def _plan_nodes(self, node_task_use: Mapping[str, Resources]) -> list[PlanNode]:
        out: list[PlanNode] = []
        for agent_id, resources in self.agent_resources.items():
            node_id = self.node_by_agent.get(agent_id)
            record = self.nodes.get(node_id) if node_id is not None else None
            if record is None or agent_id not in self.online:
                continue
            state = self._node_state(record)
            capacity = resources.watermark.max_with(resources.offered + resources.running)
            out.append(
                PlanNode(
                    node_id=record.node_id,
                    offered=resources.offered - node_task_use.get(agent_id, ZERO),
                    total=resources.total,
                    capacity=capacity,
                    takes_new_jobs=state == NodeState.READY,
                    runs_tasks=state not in (NodeState.DEPRECATED, NodeState.OFFLINE),
                    refusal="" if state == NodeState.READY else f"node {state.value.lower()}",
                )
            )
        return out

    def _type_limits(self) -> tuple[dict[int, int], frozenset[int]]:
        running = Counter(exe.job_type_id for exe in self.executions.values())
        limits: dict[int, int] = {}
        excluded: set[int] = set()
        for type_id, info in self.job_types.items():
            r = info.record
            if r.is_paused or not r.is_active or info.manifest is None:
                excluded.add(type_id)
            elif r.max_scheduled is not None:
                limits[type_id] = r.max_scheduled - running[type_id]
                if limits[type_id] <= 0:
                    excluded.add(type_id)
        return limits, frozenset(excluded)

    def _refresh_resources(self, now: datetime) -> None:
        running = self._running_by_agent()
        for agent_id, resources in self.agent_resources.items():
            resources.refresh(running.get(agent_id, ZERO), now)

    def scheduling_tick(self, now: datetime) -> None:
        self.passes += 1
        self._apply_events(self.backend.poll(), now)
        self._refresh_resources(now)
        self._fail_lost_executions(now)

        node_task_plans, node_task_use = self._place_node_tasks(now)
        system_specs, system_waiting = self._place_system_tasks(now, node_task_use)
        self._raise_crash_warnings(now)
        if system_waiting and any(self._node_state(r) == NodeState.READY for r in self.nodes.values()):
            # Only when some node is READY: before that the node states already say why.
            self.warnings.raise_warning(
                "WAITING_SYSTEM_TASKS",
                "Waiting System Tasks",
                "No new jobs scheduled due to waiting system tasks",
                now,
            )
        nodes = self._plan_nodes(node_task_use)
        waiting = [
            WaitingTask(exe.job_exe_id, exe.node_id, exe.current.resources, exe.priority)
            for exe in self.executions.values()
            if exe.needs_launch() and exe.current is not None
        ]
        limits, excluded = self._type_limits()
        # When no node takes new jobs (all degraded, paused, cleaning up) the queue is still read
        # once per sync period, so each waiting job says why (``queue_reasons``: "node degraded").
        explain = (
            bool(nodes)
            and not any(n.takes_new_jobs for n in nodes)
            and (
                self.last_explained is None
                or (now - self.last_explained).total_seconds() >= self.config.sync_s
            )
        )
        schedule_new = (
            not self.settings.is_paused
            and not system_waiting
            and (explain or any(n.takes_new_jobs and not n.offered.is_zero() for n in nodes))
        )
        if explain and schedule_new:
            self.last_explained = now
        queue = (
            self.store.load_queue(
                lifo=self.settings.queue_mode == QueueMode.LIFO,
                exclude_job_types=sorted(excluded),
                limit=self.config.queue_window,
            )
            if schedule_new
            else []
        )
        if any(q.job_type_id not in self.job_types for q in queue):
            # A job type created since the last sync: read it now rather than make its jobs
            # wait up to a sync period.
            self._refresh_catalog()
        queue = [q for q in queue if q.job_type_id in self.job_types]
        plan = schedule_pass(
            PlanInput(
                nodes=nodes,
                waiting_tasks=waiting,
                queue=queue,
                running=(
                    [RunningWork(e.node_id, e.priority, e.resources) for e in self.executions.values()]
                    if queue
                    else []
                ),
                type_limits=limits,
                schedule_new_jobs=schedule_new,
            )
        )
        to_launch: dict[str, list[RunningExecution]] = defaultdict(list)
        for key in plan.next_tasks:
            exe = self.executions[key]
            to_launch[exe.agent_id].append(exe)
        jobs_launched = self._create_executions(plan.placements, now, to_launch)
        self._launch(to_launch, node_task_plans, now, system_specs)
        if self.settings.is_paused:
            for resources in self.agent_resources.values():
                if resources.offers:
                    self.backend.decline(resources.take_all_offers())
        self._record_unplaced(plan.unplaced, {p.job.job_id for p in plan.placements})
        for type_id, short in plan.unfit_types.items():
            r = self.job_types[type_id].record
            self.warnings.raise_warning(
                f"INSUFFICIENT_RESOURCES_{type_id}",
                f"Insufficient Resources for {r.name} {r.version}",
                f"Jobs of {r.name} {r.version} need more {', '.join(short)} than any node has; "
                "they stay queued.",
                now,
            )
        self.rates.add("jobs_launched_per_sec", jobs_launched)
        self._check_starvation(now)

    def _create_executions(
        self, placements: list[Any], now: datetime, to_launch: dict[str, list[RunningExecution]]
    ) -> int:
        if not placements:
            return 0
        agent_of = {node_id: agent_id for agent_id, node_id in self.node_by_agent.items()}
        framework = self.registration.framework_id if self.registration else "scale"
        new = [
            NewExecution(
                job_id=p.job.job_id,
                exe_num=p.job.exe_num,
                job_type_id=p.job.job_type_id,
                node_id=p.node_id,
                cluster_id=f"scale_job_{framework}_{p.job.job_id}x{p.job.exe_num}",
                resources=p.job.resources,
                timeout_s=self._timeout_of(p.job.job_type_id),
                priority=p.job.priority,
                queued=p.job.queued,
            )
            for p in placements
        ]
        by_job = {(n.job_id, n.exe_num): n for n in new}
        created = self.store.create_executions(new, now)
        for c in created:
            n = by_job[(c.job_id, c.exe_num)]
            info = self.job_types[n.job_type_id]
            exe = RunningExecution(
                job_exe_id=c.job_exe_id,
                job_id=c.job_id,
                exe_num=c.exe_num,
                job_type_id=n.job_type_id,
                node_id=n.node_id,
                agent_id=agent_of[n.node_id],
                cluster_id=n.cluster_id,
                priority=n.priority,
                resources=n.resources,
                started=now,
                tasks=self._task_plans(info, c.input, n.resources),
                error_mapping=info.error_mapping,
                is_system=info.record.is_system,
                workdir=os.path.join(self._exe_root(self.nodes[n.node_id].hostname), n.cluster_id),
            )
            self.executions[exe.job_exe_id] = exe
            to_launch[exe.agent_id].append(exe)
        return len(created)

    def _timeout_of(self, job_type_id: int) -> int:
        manifest = self.job_types[job_type_id].manifest
        return manifest.timeout if manifest else 0

    def _node_task_spec(self, agent_id: str, plan: NodeTaskPlan) -> TaskSpec:
        node_id = self.node_by_agent[agent_id]
        workdir = os.path.join(self.config.data_dir, "node-tasks", str(node_id))
        return TaskSpec(
            task_id=plan.task_id,
            agent_id=agent_id,
            resources=NODE_TASK_RESOURCES,
            command=plan.command,
            env={"SCALE_TASK_TYPE": plan.kind.value},
            workdir=workdir,
            stdout_path=os.path.join(workdir, f"{plan.kind.value}.stdout"),
            stderr_path=os.path.join(workdir, f"{plan.kind.value}.stderr"),
        )

    def _launch(
        self,
        to_launch: dict[str, list[RunningExecution]],
        node_task_plans: Mapping[str, list[NodeTaskPlan]],
        now: datetime,
        system_specs: Mapping[str, list[TaskSpec]] | None = None,
    ) -> None:
        system_specs = system_specs or {}
        for agent_id in set(to_launch) | set(node_task_plans) | set(system_specs):
            exes = to_launch.get(agent_id, [])
            resources = self.agent_resources.get(agent_id)
            if resources is None:
                continue
            specs = list(system_specs.get(agent_id, []))
            for plan in node_task_plans.get(agent_id, []):
                node_id = self.node_by_agent[agent_id]
                self.node_tasks[node_id].launched(plan, now)
                self.node_task_owner[plan.task_id] = node_id
                specs.append(self._node_task_spec(agent_id, plan))
            for exe in exes:
                spec = self._task_spec(exe)
                exe.launched(spec.task_id, now)
                self.task_owner[spec.task_id] = exe.job_exe_id
                specs.append(spec)
            offer_ids = resources.take_all_offers()
            self.backend.launch(offer_ids, specs)
            self.rates.add("tasks_launched_per_sec", len(specs))
            self.rates.add("offers_launched_per_sec", len(offer_ids))

    def _record_unplaced(self, unplaced: dict[int, dict[str, int]], placed: set[int]) -> None:
        changed = {job_id: r for job_id, r in unplaced.items() if self.unplaced_written.get(job_id) != r}
        for job_id in placed:
            self.unplaced_written.pop(job_id, None)
        if changed:
            self.store.record_unplaced(changed)
            self.unplaced_written.update(changed)

    def _check_starvation(self, now: datetime) -> None:
        limit = timedelta(seconds=self.config.starvation_s)
        for exe in list(self.executions.values()):
            if exe.needs_launch() and exe.last_task_finished and now - exe.last_task_finished > limit:
                self._fail_execution(exe, "resource-starvation", now, kill=False)

    # ------------------------------------------------------------------ task handling and recon

    def task_handling_tick(self, now: datetime) -> None:
        """Time out tasks: mark the error, kill the task; the execution ends when the kill lands."""
        for exe in list(self.executions.values()):
            error = exe.timed_out(now, self.config.staging_timeout_s)
            if error is not None and exe.task_id is not None:
                exe.kill_error = error
                self.backend.kill(exe.task_id)
        for tasks in self.node_tasks.values():
            for task_id in tasks.timed_out(now, self.config.staging_timeout_s):
                self.backend.kill(task_id)
        for task_id in self.system_tasks.timed_out(now, self.config.staging_timeout_s):
            self.backend.kill(task_id)

    def reconciliation_tick(self, now: datetime) -> None:
        """Ask the backend about tasks in doubt: staging too long, running silent too long."""
        full = (
            self.last_full_recon is None
            or (now - self.last_full_recon).total_seconds() >= self.config.full_recon_s
        )
        ask: list[str] = []
        for exe in self.executions.values():
            if exe.task_id is None or exe.last_update is None:
                continue
            silent = (now - exe.last_update).total_seconds()
            limit = self.config.recon_staging_s if exe.task_started is None else self.config.recon_running_s
            asked = self.recon_asked.get(exe.task_id)
            recently_asked = asked is not None and (now - asked).total_seconds() < self.config.recon_staging_s
            if (silent > limit and not recently_asked) or (full and asked is not None):
                ask.append(exe.task_id)
        if full:
            self.last_full_recon = now
        if ask:
            for task_id in ask:
                self.recon_asked[task_id] = now
            self.backend.reconcile(ask)

    # ------------------------------------------------------------------ messaging

    def messaging_tick(self, now: datetime) -> None:
        if len(self.outbox):
            self.store.send(self.outbox.take())  # ends first, then completed, then failed

    @property
    def outbox_size(self) -> int:
        return len(self.outbox)

    # ------------------------------------------------------------------ status

    def _node_views(self) -> list[NodeView]:
        running_by_node: dict[int, Counter[int]] = defaultdict(Counter)
        for exe in self.executions.values():
            running_by_node[exe.node_id][exe.job_type_id] += 1
        agent_of: dict[int, str] = {}
        for agent_id, node_id in self.node_by_agent.items():
            agent_of[node_id] = agent_id
        views = []
        for record in sorted(self.nodes.values(), key=lambda r: r.node_id):
            agent_id = agent_of.get(record.node_id, "")
            state = self._node_state(record)
            if not record.is_active and state == NodeState.DEPRECATED and agent_id not in self.online:
                continue  # deprecated and gone: no longer part of the cluster picture
            resources = self.agent_resources.get(agent_id) if agent_id in self.online else None
            tasks = self.node_tasks.get(record.node_id)
            views.append(
                NodeView(
                    node_id=record.node_id,
                    hostname=record.hostname,
                    agent_id=agent_id if agent_id in self.online else "",
                    is_active=record.is_active,
                    state=state,
                    resources=resources.breakdown() if resources else EMPTY_BREAKDOWN,
                    num_offers=len(resources.offers) if resources else 0,
                    running_by_type=running_by_node.get(record.node_id, Counter()),
                    node_tasks=tasks.status_tasks() if tasks else (),
                    system_tasks=self.system_tasks.status_tasks(agent_id) if agent_id in self.online else (),
                    errors=[c.to_json(format_time) for c in tasks.errors.values()] if tasks else (),
                    warnings=[c.to_json(format_time) for c in tasks.warnings.values()] if tasks else (),
                )
            )
        return views

    def build_status(
        self, now: datetime, *, backlog: int = 0, dead: int = 0, queue: QueueStats | None = None
    ) -> dict[str, Any]:
        self.finished.roll(now)
        return build_status(
            StatusInputs(
                now=now,
                rates=self.rates.rates(self.clock.monotonic()),
                hostname=self.config.hostname,
                registration=self.registration,
                is_paused=self.settings.is_paused,
                db_update_completed=(
                    self.system_tasks.db_update_completed
                    if self.config.system_tasks
                    else self.db_update_completed
                ),
                services=[
                    {
                        "name": "messaging",
                        "title": "Messaging",
                        "description": "Processes the backend messaging system",
                        "actual_count": (
                            self.system_tasks.running_handlers()
                            if self.config.system_tasks
                            else self.handlers.alive()
                        ),
                        "desired_count": self.settings.num_message_handlers,
                    }
                ],
                nodes=self._node_views(),
                job_types=[info.status_json() for _, info in sorted(self.job_types.items())],
                finished=self.finished,
                warnings=[w.to_json(format_time) for w in self.warnings.active(now)],
                message_backlog=backlog + self.outbox_size,
                dead_messages=dead,
                queue_transport=queue.transport if queue else "database",
                queue_detail=queue.detail if queue else {},
                queue_error=queue.error if queue else None,
                totals=self.rates.totals(),
                build_seconds=self.last_status_build_s,
            )
        )

    def status_tick(self, now: datetime) -> None:
        self._refresh_nodes()
        self._check_cancellations(now)
        self._refresh_resources(now)
        queue = self.queue_probe.latest() if self.queue_probe is not None else None
        if queue is not None:
            backlog, dead = queue.backlog, queue.dead
        else:
            backlog, dead = self.store.message_counts()
        started = self.clock.monotonic()
        status = self.build_status(now, backlog=backlog, dead=dead, queue=queue)
        self.store.save_status(status, now)
        # Shown in the next document (this one is stored already): /metrics and the dashboard.
        self.last_status_build_s = max(0.0, self.clock.monotonic() - started)

    # ------------------------------------------------------------------ loops

    def loops(self) -> list[Loop]:
        c = self.config
        return [
            Loop("scheduling", c.scheduling_s, self.scheduling_tick, warn_after_s=1.0),
            Loop("messaging", c.messaging_s, self.messaging_tick),
            Loop("reconciliation", c.reconciliation_s, self.reconciliation_tick),
            Loop("task_handling", c.task_handling_s, self.task_handling_tick),
            Loop("status", c.status_s, self.status_tick),
            Loop("sync", c.sync_s, self.sync_tick, warn_after_s=5.0),
        ]
