"""System services: version (status is served verbatim, so it has no model)."""

from __future__ import annotations

from pydantic import BaseModel


class VersionOut(BaseModel):
    version: str
