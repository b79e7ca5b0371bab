"""Registered models and their versions: registration from a run, lookup by number or
alias, gated promotion with an audit trail."""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from headrace.errors import HeadraceError
from headrace.home import StoreSettings
from headrace.models import gates as _gates
from headrace.models._model import STAGES, Model, check_name
from headrace.models.errors import PromotionRefusedError
from headrace.runner.step_runner import load_artifact
from headrace.store.protocols import RegistryStore
from headrace.store.records import ArtifactVersionRecord, ModelVersionRecord, PromotionRecord
from headrace.store.stores import Stores, open_stores

log = logging.getLogger("headrace")

ACTOR_ENV = "HEADRACE_USER"


def model_store(stores: Stores) -> RegistryStore:
    return stores.metadata.registry


def current_actor() -> str:
    """Who is acting: ``HEADRACE_USER`` if set, else the login name."""
    actor = os.environ.get(ACTOR_ENV)
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


# -- registration ---------------------------------------------------------------------------
def register_run(settings: StoreSettings, model: Model, run_id: str) -> ModelVersionRecord:
    """Make a new version of ``model`` from a completed run: link the artifacts it
    produced (the model, metrics, training data and every other output) and record the
    metrics, latency and input signature found there."""
    stores = open_stores(settings)
    meta = stores.metadata
    steps = meta.get_step_runs(run_id)
    links: dict[str, tuple[str, str]] = {}
    records: dict[str, ArtifactVersionRecord] = {}
    latency: dict[str, Any] = {}
    model_step = None
    for step_run in steps:
        for version_id in step_run.outputs.values():
            record = meta.get_artifact_version_by_id(version_id)
            records[record.name] = record
            if record.name == model.artifact:
                model_step = step_run
        found = step_run.metadata.get("latency")
        if isinstance(found, Mapping):
            latency.update(found)
    if model.artifact not in records:
        raise HeadraceError(
            f"run {run_id[:12]} produced no artifact '{model.artifact}' for model "
            f"'{model.name}' (outputs: {', '.join(sorted(records)) or 'none'}); "
            "set Model(artifact=...) to the output that is the model"
        )
    data_names: list[str] = []
    if model.data is not None:
        data_names = [model.data]
    elif model_step is not None:
        for version_id in model_step.inputs.values():
            record = meta.get_artifact_version_by_id(version_id)
            records.setdefault(record.name, record)
            data_names.append(record.name)
    for name, record in records.items():
        role = (
            "model"
            if name == model.artifact
            else "metrics"
            if name == model.metrics
            else "data"
            if name in data_names
            else "output"
        )
        links[name] = (record.id, role)
    missing = [n for n in data_names if n not in records]
    if missing:
        raise HeadraceError(
            f"model '{model.name}': training data artifact '{missing[0]}' is not in run {run_id[:12]}"
        )

    metadata: dict[str, Any] = {"metrics": {}, "pipeline": meta.get_run(run_id).pipeline}
    if model.metrics and model.metrics in records:
        metadata["metrics"] = _metrics(stores, records[model.metrics])
    if latency:
        metadata["latency"] = latency
    signature = _signature(stores, model, records[model.artifact], [records[n] for n in data_names])
    if signature is not None:
        metadata["signature"] = signature
    return model_store(stores).create_version(
        model.name, run_id=run_id, artifacts=links, metadata=metadata, description=model.description
    )


def _metrics(stores: Stores, record: ArtifactVersionRecord) -> dict[str, float]:
    values: Mapping[str, Any] = record.metadata
    if record.materializer == "json":
        # The metadata of a JSON artifact describes the file (its length...): read the dict.
        loaded = load_artifact(stores, record)
        values = loaded if isinstance(loaded, Mapping) else {}
    return {
        str(k): v
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _signature(
    stores: Stores,
    model: Model,
    model_record: ArtifactVersionRecord,
    data: list[ArtifactVersionRecord],
) -> dict[str, Any] | None:
    schema: dict[str, str] = {}
    for record in data:
        found = record.metadata.get("schema")
        if isinstance(found, Mapping):
            schema.update({str(k): str(v) for k, v in found.items()})
    output: dict[str, Any] = {}
    if model.signature is not None:
        inputs = [{"name": k, "type": v} for k, v in model.signature.items()]
    else:
        try:
            obj = load_artifact(stores, model_record)
        except Exception as exc:
            log.warning("model '%s': cannot read the signature of the model: %s", model.name, exc)
            return None
        names = getattr(obj, "feature_names_in_", None)
        if names is None:
            return None
        inputs = [
            {"name": str(n), "type": _json_type(schema.get(str(n), "float64"))} for n in names
        ]
        classes = getattr(obj, "classes_", None)
        if classes is not None:
            output["classes"] = [_plain(c) for c in classes]
        output["proba"] = hasattr(obj, "predict_proba")
    return {"inputs": inputs, "output": output}


def _json_type(dtype: str) -> str:
    text = dtype.lower()
    if text.startswith("bool"):
        return "boolean"
    if text.startswith(("int", "uint")):
        return "integer"
    if text.startswith("float"):
        return "number"
    return "string"


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


# -- the registry seen from a Client -------------------------------------------------------
class RegisteredModel:
    """A model in the registry: ``Client().model("churn")``."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = check_name(name)
        self.client = client

    @property
    def _store(self) -> RegistryStore:
        return model_store(self.client.stores)

    def versions(self, limit: int | None = None) -> list[ModelVersion]:
        """Versions, newest first."""
        return [
            ModelVersion(r, self.client) for r in self._store.list_versions(self.name, limit=limit)
        ]

    def version(self, ref: int | str = "latest") -> ModelVersion:
        """A version by number, ``"latest"``, alias (``"production"``) or id."""
        return ModelVersion(self._store.get_version(self.name, ref), self.client)

    @property
    def aliases(self) -> dict[str, int]:
        """Alias -> version number."""
        for record in self._store.list_models():
            if record.name == self.name:
                return dict(record.aliases)
        self._store.list_versions(self.name, limit=0)  # raises ModelNotFoundError
        return {}

    def promote(
        self,
        version: int | str | ModelVersion,
        *,
        to: str,
        require: Any = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> PromotionRecord:
        """Point alias ``to`` at ``version`` if every gate in ``require`` passes.

        A failed gate raises :class:`PromotionRefusedError` listing every reason, and
        nothing changes. The promotion, the gates checked and their results, who did it,
        from which version and why are recorded (see :meth:`history`).
        """
        check_name(to, "alias")
        if to in ("latest",) or to.isdigit():
            raise HeadraceError(f"'{to}' cannot be an alias: it already means a version")
        gates = _gates.normalize(require)
        target = (
            version.record
            if isinstance(version, ModelVersion)
            else self._store.get_version(self.name, version)
        )
        if target.model != self.name:
            raise HeadraceError(f"version {target.version} belongs to model '{target.model}'")
        checks = _gates.evaluate(gates, target.metadata)
        failed = [c.reason for c in checks if not c.passed]
        if failed:
            raise PromotionRefusedError(
                f"model '{self.name}' version {target.version} was not promoted to '{to}': "
                + "; ".join(failed),
                reasons=failed,
                checks=[c.to_dict() for c in checks],
            )
        return self._store.set_alias(
            self.name,
            to,
            target.id,
            actor=actor or current_actor(),
            reason=reason,
            checks=[c.to_dict() for c in checks],
            exclusive=STAGES if to in STAGES else (),
        )

    def history(self) -> list[PromotionRecord]:
        """Every promotion, newest first."""
        return self._store.history(self.name)

    def __repr__(self) -> str:
        return f"RegisteredModel({self.name!r})"


class ModelVersion:
    """One version of a registered model."""

    def __init__(self, record: ModelVersionRecord, client: Any) -> None:
        self.record = record
        self.client = client

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def run_id(self) -> str | None:
        return self.record.run_id

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.record.aliases

    @property
    def metadata(self) -> dict[str, Any]:
        return self.record.metadata

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.record.metadata.get("metrics") or {})

    @property
    def latency(self) -> dict[str, Any]:
        return dict(self.record.metadata.get("latency") or {})

    @property
    def signature(self) -> dict[str, Any] | None:
        found = self.record.metadata.get("signature")
        return dict(found) if isinstance(found, Mapping) else None

    @cached_property
    def artifacts(self) -> dict[str, Any]:
        """Linked artifact versions by name."""
        return {n: self.client.artifact_by_id(v) for n, v in self.record.artifacts.items()}

    def artifacts_with_role(self, role: str) -> list[Any]:
        """Linked artifact versions whose role is ``model``, ``metrics``, ``data`` or ``output``."""
        return [self.artifacts[n] for n, r in self.record.roles.items() if r == role]

    @property
    def model_artifact(self) -> Any:
        found = self.artifacts_with_role("model")
        if not found:
            raise HeadraceError(
                f"model '{self.model}' version {self.version} links no model artifact"
            )
        return found[0]

    def load(self) -> Any:
        """The model object (from the artifact store, verified against its hash)."""
        return self.model_artifact.load()

    @property
    def run(self) -> Any:
        return self.client.run(self.run_id) if self.run_id else None

    def log_metadata(self, values: Mapping[str, Any]) -> ModelVersion:
        """Merge JSON key/values into this version's metadata; returns the updated version."""
        record = model_store(self.client.stores).update_metadata(self.id, values)
        self.record = record
        return self

    def record_drift(self, report: Any) -> ModelVersion:
        """Record a drift report's verdict (for the ``"no drift"`` gate)."""
        summary = report.summary() if hasattr(report, "summary") else {}
        return self.log_metadata(
            {"drift": {"verdict": str(report.verdict), "passed": bool(report.passed), **summary}}
        )

    def __repr__(self) -> str:
        aliases = f", aliases={list(self.aliases)}" if self.aliases else ""
        return f"ModelVersion(model={self.model!r}, version={self.version}{aliases})"
