"""The inference log: every served request's inputs, prediction, latency and model
version, written in batches as versions of the ``inference_log`` artifact.

Each batch is recorded as a run of the pipeline ``serve:<model>`` with one step run,
``log_predictions``, whose input is the model artifact version that answered and whose
output is the batch. So lineage from any logged prediction reaches the model, and from
there the training data and code that made it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from headrace import environment, materializers
from headrace.home import StoreSettings
from headrace.runner.liveness import owner_token
from headrace.spec.types import FunctionRef, OutputSpec, PipelineSpec, StepSpec
from headrace.store.records import NewArtifactVersion
from headrace.store.stores import Stores, open_stores

log = logging.getLogger("headrace.serving")

INFERENCE_LOG = "inference_log"
STEP_NAME = "log_predictions"


def log_predictions() -> None:
    """Stands for the server in the lineage of the ``inference_log`` artifact."""


class InferenceLogger:
    """Buffers logged rows in memory and writes them every ``flush_interval`` seconds or
    ``flush_rows`` rows, from a background thread; ``close()`` writes what is left."""

    def __init__(
        self,
        settings: StoreSettings,
        model: str,
        *,
        flush_interval: float = 5.0,
        flush_rows: int = 5000,
    ) -> None:
        self.settings = settings
        self.model = model
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.written = 0  # rows written so far
        self.failures = 0  # flushes that failed
        self.dropped = 0  # rows dropped because the store stayed unwritable
        # While the store cannot be written, keep at most this many rows (oldest go
        # first): a server must not run out of memory because its log store is down.
        self.max_pending = 10 * flush_rows
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._env_hash: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="headrace-inference-log", daemon=True
        )
        self._thread.start()

    def log(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows.extend(rows)
            self._trim()
            full = len(self._rows) >= self.flush_rows
        if full:
            self._wake.set()

    def _trim(self) -> None:
        excess = len(self._rows) - self.max_pending
        if excess > 0:
            del self._rows[:excess]
            self.dropped += excess

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except Exception:
                self.failures += 1
                log.exception(
                    "could not write the inference log; the rows are kept for the next try"
                )

    def flush(self) -> list[str]:
        """Write every buffered row now; returns the ids of the artifact versions written."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return []
            groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for row in rows:
                key = (row["model_version_id"], row.pop("_model_artifact_id"))
                groups.setdefault(key, []).append(row)
            written = []
            try:
                stores = open_stores(self.settings)
                for (version_id, artifact_id), group in list(groups.items()):
                    written.append(self._write(stores, version_id, artifact_id, group))
                    del groups[(version_id, artifact_id)]
                    self.written += len(group)
            except BaseException:
                with self._lock:
                    kept = [
                        {**r, "_model_artifact_id": a} for (_, a), g in groups.items() for r in g
                    ]
                    self._rows[:0] = kept
                    self._trim()
                raise
            return written

    def _environment(self, stores: Stores) -> str:
        if self._env_hash is None:
            env = environment.snapshot(None)
            env_hash = environment.environment_hash(env)
            stores.metadata.put_environment(env_hash, env)
            self._env_hash = env_hash
        return self._env_hash

    def _write(
        self, stores: Stores, version_id: str, artifact_id: str, rows: list[dict[str, Any]]
    ) -> str:
        import pandas as pd

        frame = pd.DataFrame(rows)
        version = rows[0].get("model_version")
        spec = PipelineSpec(
            name=f"serve:{self.model}",
            parameters={"model": self.model, "model_version": version},
            steps=(
                StepSpec(
                    name=STEP_NAME,
                    function=FunctionRef(__name__, log_predictions.__qualname__),
                    code_hash="",
                    parameters={},
                    inputs={},
                    outputs=(OutputSpec(INFERENCE_LOG),),
                ),
            ),
        )
        meta = stores.metadata
        run_id = uuid.uuid4().hex
        step_run_id = uuid.uuid4().hex
        started = time.time()
        meta.create_run(
            run_id=run_id,
            pipeline=spec.name,
            parameters=spec.parameters,
            spec=spec.to_dict(),
            environment_hash=self._environment(stores),
            started_at=started,
            owner=owner_token(),
        )
        try:
            meta.create_step_run(
                step_run_id=step_run_id,
                run_id=run_id,
                name=STEP_NAME,
                started_at=started,
                inputs={"model": artifact_id},
            )
            staging = Path(tempfile.mkdtemp(prefix="headrace-inference-"))
            try:
                chosen = materializers.select(frame)
                metadata = materializers.save(frame, staging, chosen)
                stored = stores.artifacts.put_dir(staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            metadata.update(
                model=self.model,
                model_version=version,
                model_version_id=version_id,
                requests=int(frame["request_id"].nunique()),
            )
            records = meta.finish_step_run(
                step_run_id,
                status="completed",
                ended_at=time.time(),
                cache_key=None,
                cache_components={},
                cache_reason="inference logs are never cached",
                outputs={
                    INFERENCE_LOG: NewArtifactVersion(
                        name=INFERENCE_LOG,
                        hash=stored.hash,
                        uri=stored.uri,
                        type=str(metadata.get("type") or materializers.type_name(frame)),
                        materializer=chosen.name,
                        size=stored.size,
                        metadata=metadata,
                    )
                },
            )
        except BaseException as exc:
            meta.finish_run(run_id, status="failed", ended_at=time.time(), error=repr(exc))
            raise
        meta.finish_run(run_id, status="completed", ended_at=time.time())
        return records[INFERENCE_LOG].id


def read_inference_log(client: Any, *, model: str, limit: int = 20) -> Any:
    """The rows of the newest ``limit`` inference log versions of ``model`` (a DataFrame,
    oldest first)."""
    import pandas as pd

    from headrace.client import ArtifactVersion

    frames: list[Any] = []
    page, offset = max(limit * 4, 50), 0
    meta = client.stores.metadata
    # Page through the log versions of every served model until this model's newest
    # ``limit`` are found: another model may log far more often.
    while len(frames) < limit:
        records = meta.list_artifact_versions(name=INFERENCE_LOG, limit=page, offset=offset)
        for record in records:
            if record.metadata.get("model") == model and len(frames) < limit:
                frames.append(ArtifactVersion(record, client).load())
        if len(records) < page:
            break
        offset += page
    if not frames:
        return pd.DataFrame()
    return pd.concat(list(reversed(frames)), ignore_index=True)
