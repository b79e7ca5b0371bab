"""The active stack: where metadata and artifacts live, and which orchestrator runs steps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headrace.home import StoreSettings, resolve_settings
from headrace.orchestrators import Orchestrator, load_orchestrator


@dataclass(frozen=True, slots=True)
class Stack:
    settings: StoreSettings
    orchestrator: Orchestrator


def active_stack(
    home: str | os.PathLike[str] | None = None, *, orchestrator: Mapping[str, Any] | None = None
) -> Stack:
    """The stack of the home folder (see :mod:`headrace.home`); ``orchestrator`` overrides
    the configured orchestrator options for one run (e.g. ``{"max_parallel": 1}``)."""
    settings = resolve_settings(home)
    options = {**settings.orchestrator, **(orchestrator or {})}
    return Stack(settings=settings, orchestrator=load_orchestrator(options))
