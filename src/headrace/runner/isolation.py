"""Run a step in a child process, so that a timeout or Ctrl-C can stop it for real.

Threads cannot be killed; processes can. A step with ``timeout=`` runs through
``python -m headrace.runner`` in its own process group, and when the time is up the whole
group is killed, the step run is recorded as failed with the reason, and its temporary
files go with the process (the artifact store's in-flight files are removed by ``gc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from headrace.errors import DefinitionError, StepError, StoreError
from headrace.home import StoreSettings
from headrace.runner.step_runner import StepResult
from headrace.runner.stores import open_stores
from headrace.spec.types import PipelineSpec

_lock = threading.Lock()
_children: dict[str, set[subprocess.Popen[str]]] = {}  # run id -> live step processes
_cancelled: set[str] = set()


def cancel_children(run_id: str) -> None:
    """Kill the step processes of a run (Ctrl-C in the driving process)."""
    with _lock:
        _cancelled.add(run_id)
        procs = list(_children.get(run_id, ()))
    for proc in procs:
        _kill(proc, reap=False)  # the thread waiting on it reaps it


def run_step_isolated(
    spec: PipelineSpec,
    step_name: str,
    settings: StoreSettings,
    run_id: str,
    inputs: Mapping[str, str],
    *,
    timeout: float | None,
) -> StepResult:
    step = spec.step(step_name)
    if "<locals>" in step.function.qualname:
        raise DefinitionError(
            "a step with a timeout runs in its own process, so it must be defined at module level",
            step=step_name,
        )
    step_run_id = uuid.uuid4().hex
    task = {
        "spec": spec.to_dict(),
        "step": step_name,
        "settings": settings.to_dict(),
        "run_id": run_id,
        "inputs": dict(inputs),
        "step_run_id": step_run_id,
        "parent_pid": os.getpid(),  # the step process ends if this one is killed
    }
    env = dict(os.environ)
    # The child must import headrace and the step's module the way this process did.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "headrace.runner", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: a kill reaches its children too
    )
    with _lock:
        _children.setdefault(run_id, set()).add(proc)
    started = time.monotonic()
    try:
        out, err = proc.communicate(json.dumps(task), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        reason = f"timed out after {timeout:g}s"
        _record_stopped(settings, step_run_id, run_id, step_name, inputs, reason)
        raise StepError(reason, step=step_name, run_id=run_id) from None
    except BaseException:  # Ctrl-C: stop the child with us
        _kill(proc)
        _record_stopped(
            settings, step_run_id, run_id, step_name, inputs, "cancelled", status="cancelled"
        )
        raise
    finally:
        with _lock:
            _children.get(run_id, set()).discard(proc)
    if run_id in _cancelled:
        _record_stopped(
            settings, step_run_id, run_id, step_name, inputs, "cancelled", status="cancelled"
        )
        raise StepError("cancelled", step=step_name, run_id=run_id)
    result = _parse(out)
    if proc.returncode == 0 and "outputs" in result:
        return StepResult(result["step_run_id"], bool(result["cache_hit"]), dict(result["outputs"]))
    if "error" in result:
        raise StepError(result["error"].split(" failed: ", 1)[-1], step=step_name, run_id=run_id)
    tail = err.strip().splitlines()[-1] if err.strip() else f"exit code {proc.returncode}"
    reason = f"its process died after {time.monotonic() - started:.1f}s: {tail}"
    _record_stopped(settings, step_run_id, run_id, step_name, inputs, reason)
    raise StepError(reason, step=step_name, run_id=run_id)


def _parse(out: str) -> dict[str, Any]:
    for line in reversed(out.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _kill(proc: subprocess.Popen[str], *, reap: bool = True) -> None:
    """Kill the step's process group; ``reap`` also waits for it and closes its pipes
    (only the thread that owns ``proc`` may do that)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if reap:
        proc.communicate()


def _record_stopped(
    settings: StoreSettings,
    step_run_id: str,
    run_id: str,
    step_name: str,
    inputs: Mapping[str, str],
    reason: str,
    *,
    status: str = "failed",
) -> None:
    """Mark the child's step run as stopped; create it if the child died before it could."""
    meta = open_stores(settings).metadata
    try:
        meta.get_step_run(step_run_id)
    except StoreError:
        meta.create_step_run(
            step_run_id=step_run_id,
            run_id=run_id,
            name=step_name,
            started_at=time.time(),
            inputs=dict(inputs),
        )
    meta.finish_step_run(
        step_run_id,
        status=status,
        ended_at=time.time(),
        cache_key=None,
        cache_components={},
        error=reason,
    )
