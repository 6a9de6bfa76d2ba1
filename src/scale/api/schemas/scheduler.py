"""``/v6/scheduler/``: the four runtime settings."""

from __future__ import annotations

from pydantic import BaseModel, StrictBool, StrictInt, StrictStr

from scale.api.schemas.common import WriteModel
from scale.services.scheduler_settings import QueuedResourcesView, SchedulerChanges, SchedulerSettingsView


class SchedulerOut(BaseModel):
    is_paused: bool
    num_message_handlers: int
    system_logging_level: str
    queue_mode: str

    @classmethod
    def from_view(cls, view: SchedulerSettingsView) -> SchedulerOut:
        return cls(
            is_paused=view.is_paused,
            num_message_handlers=view.num_message_handlers,
            system_logging_level=view.system_logging_level,
            queue_mode=view.queue_mode,
        )


class SchedulerPatch(WriteModel):
    """Any subset of the four settings. Types are strict: ``"true"`` is not a boolean."""

    is_paused: StrictBool | None = None
    num_message_handlers: StrictInt | None = None
    system_logging_level: StrictStr | None = None
    queue_mode: StrictStr | None = None

    def to_changes(self) -> SchedulerChanges:
        return SchedulerChanges(
            is_paused=self.is_paused,
            num_message_handlers=self.num_message_handlers,
            system_logging_level=self.system_logging_level,
            queue_mode=self.queue_mode,
        )


class ResourcesOut(BaseModel):
    cpus: float
    mem: float
    disk: float
    gpus: float


class QueueLengthsOut(BaseModel):
    PENDING: int
    QUEUED: int
    RUNNING: int


class StatusResourcesOut(BaseModel):
    PENDING: ResourcesOut
    QUEUED: ResourcesOut
    RUNNING: ResourcesOut


class QueuedResourcesOut(BaseModel):
    """Scale HEAD's ``GET /v6/scheduler/queued-resources/``."""

    cluster_resources: ResourcesOut
    queue_lengths: QueueLengthsOut
    total_resources: StatusResourcesOut

    @classmethod
    def from_view(cls, view: QueuedResourcesView) -> QueuedResourcesOut:
        return cls(
            cluster_resources=ResourcesOut(**view.cluster_resources),
            queue_lengths=QueueLengthsOut(**view.queue_lengths),
            total_resources=StatusResourcesOut(
                **{status: ResourcesOut(**res) for status, res in view.total_resources.items()}
            ),
        )
