"""The beginning and end of a run: environment snapshot, run record, final status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from headrace import environment
from headrace.runner.liveness import owner_token
from headrace.spec.types import PipelineSpec
from headrace.store.stores import Stores


def start_run(
    stores: Stores,
    spec: PipelineSpec,
    *,
    origin_run_id: str | None = None,
    stack: Mapping[str, Any] | None = None,
) -> str:
    """Record a new ``running`` run with this process's environment; return its id."""
    source = spec.source
    env = environment.snapshot(
        source.file if source else None,
        source_text=source.source if source else None,
        source_name=f"{source.qualname}.py" if source else None,
    )
    env_hash = environment.environment_hash(env)
    stores.metadata.put_environment(env_hash, env)
    run_id = uuid.uuid4().hex
    stores.metadata.create_run(
        run_id=run_id,
        pipeline=spec.name,
        parameters=spec.parameters,
        spec=spec.to_dict(),
        environment_hash=env_hash,
        started_at=time.time(),
        origin_run_id=origin_run_id,
        owner=owner_token(),
        stack=dict(stack) if stack else None,
    )
    return run_id


def finish_run(stores: Stores, run_id: str, *, status: str, error: str | None = None) -> None:
    stores.metadata.finish_run(run_id, status=status, ended_at=time.time(), error=error)
