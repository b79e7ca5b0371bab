"""The HTTP server of ``headrace serve MODEL@ALIAS``: ``POST /predict``, ``GET /health``,
``GET /metrics``.

- Request bodies are JSON only (nothing received is ever unpickled), at most
  ``max_body_bytes`` (10 MB; more is a 413), and validated against the input signature
  recorded at training: a bad payload is a 422 naming the field, never a 500.
- The model behind the alias is re-read every ``poll_interval`` seconds; a new version is
  loaded beside the old one and swapped in with one assignment, so requests in flight
  finish on the version they started with and none is dropped.
- Every request is logged (inputs, prediction, latency, model version id) to the
  inference log, written in batches by a background thread.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headrace.errors import HeadraceError
from headrace.serving.inference_log import InferenceLogger
from headrace.serving.validation import PayloadError, validate_payload

log = logging.getLogger("headrace.serving")

MAX_BODY_BYTES = 10 * 1024 * 1024
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Served:
    """One loaded model version: what a request needs, swapped in as a whole."""

    model: str
    version: int
    version_id: str
    artifact_id: str
    inputs: tuple[tuple[str, str], ...]
    predict: Callable[[list[list[Any]]], tuple[list[Any], list[float] | None]]


def parse_target(target: str) -> tuple[str, str]:
    """``churn@production`` -> (``churn``, ``production``); a bare name means ``production``."""
    name, sep, alias = target.partition("@")
    if not name or (sep and not alias):
        raise HeadraceError(f"'{target}' is not MODEL@ALIAS (e.g. churn@production)")
    return name, alias or "production"


def make_predictor(
    obj: Any, inputs: tuple[tuple[str, str], ...]
) -> Callable[[list[list[Any]]], tuple[list[Any], list[float] | None]]:
    """A function from rows (in signature order) to predictions and, for a binary
    classifier, the probability of the positive class."""
    import numpy as np

    names = [n for n, _ in inputs]
    numeric = all(t != "string" for _, t in inputs)
    classes: Any = getattr(obj, "classes_", None)
    binary = hasattr(obj, "predict_proba") and classes is not None and len(classes) == 2
    if numeric:
        # The model saw a DataFrame; the same columns in the same order as an array skip
        # pandas entirely, which is most of the cost of a one-row prediction.
        warnings.filterwarnings(
            "ignore", message="X does not have valid feature names", category=UserWarning
        )

    def frame(rows: list[list[Any]]) -> Any:
        if numeric:
            return np.asarray(rows, dtype=float)
        import pandas as pd

        return pd.DataFrame(rows, columns=names)

    def predict(rows: list[list[Any]]) -> tuple[list[Any], list[float] | None]:
        x = frame(rows)
        if binary:
            proba = obj.predict_proba(x)[:, 1]
            labels = np.where(proba > 0.5, classes[1], classes[0])
            return [_plain(v) for v in labels], [float(p) for p in proba]
        return [_plain(v) for v in obj.predict(x)], None

    return predict


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


class Metrics:
    """Counters and a latency histogram, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.errors = 0
        self.predictions = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.recent: deque[float] = deque(maxlen=2048)
        self.swaps = 0

    def observe(self, status: int, seconds: float | None, rows: int = 0) -> None:
        with self.lock:
            key = str(status)
            self.requests[key] = self.requests.get(key, 0) + 1
            if status >= 400:
                self.errors += 1
            if seconds is not None:
                self.predictions += rows
                self.latency_sum += seconds
                self.recent.append(seconds)
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if seconds <= bound:
                        self.buckets[i] += 1
                        break
                else:
                    self.buckets[-1] += 1

    def render(
        self, served: Served, alias: str, logged: int, log_failures: int = 0, log_dropped: int = 0
    ) -> str:
        from headrace.models.latency import percentile

        label = f'model="{served.model}"'
        with self.lock:
            lines = [
                "# HELP headrace_requests_total Requests to /predict by HTTP status.",
                "# TYPE headrace_requests_total counter",
            ]
            for status, count in sorted(self.requests.items()):
                lines.append(f'headrace_requests_total{{{label},status="{status}"}} {count}')
            if not self.requests:
                lines.append(f'headrace_requests_total{{{label},status="200"}} 0')
            lines += [
                "# HELP headrace_request_errors_total Requests to /predict answered with an error.",
                "# TYPE headrace_request_errors_total counter",
                f"headrace_request_errors_total{{{label}}} {self.errors}",
                "# HELP headrace_predictions_total Rows predicted.",
                "# TYPE headrace_predictions_total counter",
                f"headrace_predictions_total{{{label}}} {self.predictions}",
                "# HELP headrace_request_latency_seconds Time to validate and predict a request.",
                "# TYPE headrace_request_latency_seconds histogram",
            ]
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self.buckets, strict=False):
                cumulative += count
                lines.append(
                    f'headrace_request_latency_seconds_bucket{{{label},le="{bound}"}} {cumulative}'
                )
            total = cumulative + self.buckets[-1]
            lines += [
                f'headrace_request_latency_seconds_bucket{{{label},le="+Inf"}} {total}',
                f"headrace_request_latency_seconds_sum{{{label}}} {self.latency_sum:.6f}",
                f"headrace_request_latency_seconds_count{{{label}}} {total}",
                "# HELP headrace_request_latency_ms Latency percentiles of the last 2048 requests.",
                "# TYPE headrace_request_latency_ms gauge",
            ]
            ordered = sorted(self.recent)
            for q in (50, 95, 99):
                value = percentile(ordered, q) * 1000 if ordered else 0.0
                lines.append(f'headrace_request_latency_ms{{{label},quantile="0.{q}"}} {value:.4f}')
            swaps = self.swaps
        lines += [
            "# HELP headrace_model_version_info The model version being served (value 1).",
            "# TYPE headrace_model_version_info gauge",
            f'headrace_model_version_info{{{label},alias="{alias}",version="{served.version}",'
            f'version_id="{served.version_id}"}} 1',
            "# HELP headrace_model_version The number of the model version being served.",
            "# TYPE headrace_model_version gauge",
            f"headrace_model_version{{{label}}} {served.version}",
            "# HELP headrace_model_swaps_total Times a new version was swapped in.",
            "# TYPE headrace_model_swaps_total counter",
            f"headrace_model_swaps_total{{{label}}} {swaps}",
            "# HELP headrace_inference_log_rows_total Rows written to the inference log.",
            "# TYPE headrace_inference_log_rows_total counter",
            f"headrace_inference_log_rows_total{{{label}}} {logged}",
            "# HELP headrace_inference_log_failures_total Flushes of the inference log that failed.",
            "# TYPE headrace_inference_log_failures_total counter",
            f"headrace_inference_log_failures_total{{{label}}} {log_failures}",
            "# HELP headrace_inference_log_dropped_total Rows dropped while the log store was down.",
            "# TYPE headrace_inference_log_dropped_total counter",
            f"headrace_inference_log_dropped_total{{{label}}} {log_dropped}",
        ]
        return "\n".join(lines) + "\n"


def _all_finite(values: Any) -> bool:
    return all(math.isfinite(v) for v in values if isinstance(v, float) and not isinstance(v, bool))


class ModelServer:
    """Holds the served version, follows the alias, logs requests."""

    def __init__(
        self,
        client: Any,
        model: str,
        alias: str = "production",
        *,
        poll_interval: float = 1.0,
        log_interval: float = 5.0,
        log_rows: int = 5000,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.client = client
        self.model = model
        self.alias = alias
        self.poll_interval = poll_interval
        self.max_body_bytes = max_body_bytes
        self.metrics = Metrics()
        self.current = self._load(alias)  # an unknown model or alias fails here
        self.logger = InferenceLogger(
            client.settings, model, flush_interval=log_interval, flush_rows=log_rows
        )
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._refused: str | None = None  # a version id that failed to load

    def _load(self, ref: str) -> Served:
        version = self.client.model(self.model).version(ref)
        signature = version.signature
        if not signature or not signature.get("inputs"):
            raise HeadraceError(
                f"model '{self.model}' version {version.version} has no recorded input "
                "signature: give Model(signature={...}) when training"
            )
        inputs = tuple((str(i["name"]), str(i["type"])) for i in signature["inputs"])
        artifact = version.model_artifact
        obj = artifact.load()
        predict = make_predictor(obj, inputs)
        predict([[_example(t) for _, t in inputs]])  # warm up, and fail before serving
        return Served(
            model=self.model,
            version=version.version,
            version_id=version.id,
            artifact_id=artifact.id,
            inputs=inputs,
            predict=predict,
        )

    def start(self) -> None:
        self.logger.start()
        self._watcher = threading.Thread(
            target=self._watch, name="headrace-alias-watch", daemon=True
        )
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self.logger.close()

    def check_alias(self) -> bool:
        """Swap in the version the alias points at now, if it moved. True if swapped."""
        store = self.client.stores.metadata.registry
        target = store.alias_target(self.model, self.alias)
        if target is None or target in (self.current.version_id, self._refused):
            return False
        try:
            fresh = self._load(target)
        except Exception:
            # Try a version that cannot be served once, not on every poll; the alias
            # moving again (a fixed version) is tried afresh.
            self._refused = target
            raise
        previous, self.current = self.current, fresh
        with self.metrics.lock:
            self.metrics.swaps += 1
        log.warning(
            "model '%s@%s': now serving version %d (was %d)",
            self.model,
            self.alias,
            fresh.version,
            previous.version,
        )
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.check_alias()
            except Exception:
                log.exception(
                    "model '%s@%s': could not load the new version; still serving version %d",
                    self.model,
                    self.alias,
                    self.current.version,
                )

    def handle_predict(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Status and JSON answer for a /predict body (already size-checked)."""
        started = time.perf_counter()
        served = self.current
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.metrics.observe(400, None)
            return 400, {"detail": f"the body is not valid JSON: {exc}"}
        except RecursionError:
            self.metrics.observe(400, None)
            return 400, {"detail": "the body nests JSON too deeply"}
        try:
            rows, records = validate_payload(payload, served.inputs)
        except PayloadError as exc:
            self.metrics.observe(422, None)
            return 422, {"detail": exc.errors}
        try:
            predictions, probabilities = served.predict(rows)
        except Exception as exc:
            log.exception("prediction failed")
            self.metrics.observe(422, None)
            return 422, {
                "detail": [{"loc": ["records"], "msg": f"the model refused the input: {exc}"}]
            }
        if not _all_finite(predictions) or (
            probabilities is not None and not _all_finite(probabilities)
        ):
            # JSON has no NaN or infinity; answer clearly instead of failing to encode,
            # and keep such rows out of the log.
            self.metrics.observe(500, None)
            return 500, {"detail": "the model returned a NaN or infinite value for this input"}
        elapsed = time.perf_counter() - started
        request_id = uuid.uuid4().hex
        now = time.time()
        latency_ms = elapsed * 1000
        self.logger.log(
            [
                {
                    **record,
                    "request_id": request_id,
                    "row": i,
                    "received_at": now,
                    "model": served.model,
                    "model_version": served.version,
                    "model_version_id": served.version_id,
                    "latency_ms": latency_ms,
                    "prediction": json.dumps(predictions[i]),
                    "probability": probabilities[i] if probabilities is not None else None,
                    "_model_artifact_id": served.artifact_id,
                }
                for i, record in enumerate(records)
            ]
        )
        self.metrics.observe(200, elapsed, len(rows))
        answer: dict[str, Any] = {
            "request_id": request_id,
            "model": served.model,
            "version": served.version,
            "model_version_id": served.version_id,
            "predictions": predictions,
        }
        if probabilities is not None:
            answer["probabilities"] = probabilities
        return 200, answer

    def health(self) -> dict[str, Any]:
        served = self.current
        return {
            "status": "ok",
            "model": served.model,
            "alias": self.alias,
            "version": served.version,
            "model_version_id": served.version_id,
            "inputs": [{"name": n, "type": t} for n, t in served.inputs],
        }


def _example(kind: str) -> Any:
    return {"number": 0.0, "integer": 0, "boolean": False}.get(kind, "")


def create_app(server: ModelServer) -> Any:
    """The FastAPI application around a :class:`ModelServer` (needs the ``serve`` extra)."""
    try:
        from headrace.serving import _http
    except ImportError as exc:
        from headrace.errors import MissingExtraError

        raise MissingExtraError(exc.name or "fastapi", "serve", purpose="serving models") from exc
    return _http.create_app(server)
