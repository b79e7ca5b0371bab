"""Ready steps of a monitoring pipeline: the serving version's training data, recent
logged traffic, a drift check recorded on the model version, and retraining with gated
promotion when the traffic drifted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from headrace.errors import HeadraceError
from headrace.pipelines import step
from headrace.serving.inference_log import INFERENCE_LOG, read_inference_log

if TYPE_CHECKING:
    import pandas as pd

    from headrace.data import DriftReport


def _features(version: Any) -> list[str]:
    signature = version.signature or {}
    names = [str(i["name"]) for i in signature.get("inputs", [])]
    if not names:
        raise HeadraceError(
            f"model '{version.model}' version {version.version} has no recorded input signature"
        )
    return names


@step(cache=False)
def training_data(
    model: str = "churn", alias: str = "production"
) -> Annotated[pd.DataFrame, "reference"]:
    """The input features of the data the ``alias`` version was trained on."""
    from headrace.client import Client

    version = Client().model(model).version(alias)
    data = version.artifacts_with_role("data")
    if not data:
        raise HeadraceError(f"model '{model}' version {version.version} links no training data")
    frame = data[0].load()
    return frame[_features(version)].reset_index(drop=True)


@step(cache=False)
def recent_traffic(
    model: str = "churn", logs: int = 20, alias: str = "production"
) -> Annotated[pd.DataFrame, "traffic"]:
    """The inputs of the requests in the newest ``logs`` inference log versions of ``model``."""
    from headrace.client import Client

    client = Client()
    frame = read_inference_log(client, model=model, limit=logs)
    if frame.empty:
        raise HeadraceError(f"no logged requests of model '{model}' in '{INFERENCE_LOG}' yet")
    features = _features(client.model(model).version(alias))
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise HeadraceError(f"the inference log has no column {', '.join(missing)}")
    return frame[features].reset_index(drop=True)


@step(cache=False)
def check_drift(
    reference: pd.DataFrame,
    traffic: pd.DataFrame,
    model: str = "churn",
    alias: str = "production",
    threshold: float = 0.05,
) -> Annotated[DriftReport, "drift_report"]:
    """:func:`headrace.data.drift` of the traffic against the training data, recorded on
    the serving model version (the ``"no drift"`` gate reads it)."""
    from headrace.client import Client
    from headrace.data import drift

    report = drift(reference, traffic, threshold=threshold)
    Client().model(model).version(alias).record_drift(report)
    return report


@step(cache=False)
def retrain_if_drifted(
    report: DriftReport,
    model: str = "churn",
    alias: str = "production",
    pipeline: str = "",
    parameters: dict[str, Any] | None = None,
    gates: list[str] | None = None,
) -> Annotated[dict[str, Any], "retraining"]:
    """On drift, run ``pipeline`` (``FILE.py:NAME``, which registers a version of
    ``model``) and promote the new version to ``alias`` if every gate passes."""
    from headrace.client import Client
    from headrace.models import PromotionRefusedError

    outcome: dict[str, Any] = {"drift": report.verdict, "retrained": False, "promoted": False}
    if report.passed:
        return outcome
    training = load_pipeline(pipeline)
    run = training.with_options(parameters=dict(parameters or {}))()
    registered = Client().model(model)
    version = registered.version("latest")
    if version.run_id != run.id:
        raise HeadraceError(f"pipeline '{training.name}' did not register a version of '{model}'")
    outcome.update(retrained=True, run_id=run.id, version=version.version)
    try:
        registered.promote(
            version,
            to=alias,
            require=list(gates or []),
            reason=f"retrained after drift in {', '.join(report.drifted_columns)}",
        )
    except PromotionRefusedError as exc:
        outcome["reasons"] = exc.reasons
        return outcome
    outcome["promoted"] = True
    return outcome


def load_pipeline(target: str) -> Any:
    """The pipeline ``FILE.py:NAME`` (or ``package.module:NAME``) names."""
    import importlib

    from headrace.pipelines import Pipeline
    from headrace.reproduce import find_pipeline, load_script

    head, sep, name = target.rpartition(":")
    if not sep or not head:
        raise HeadraceError(f"pipeline target {target!r} must be FILE.py:NAME or module:NAME")
    module: Any
    if head.endswith(".py") or Path(head).is_file():
        if not Path(head).is_file():
            raise HeadraceError(f"pipeline file {head} does not exist")
        module = load_script(Path(head))
        return find_pipeline(module, name)
    module = importlib.import_module(head)
    found = getattr(module, name, None)
    if not isinstance(found, Pipeline):
        raise HeadraceError(f"{target} is not a pipeline")
    return found


@step
def latency(
    model: Any, sample: Any, batch_sizes: list[int] | None = None, repeats: int = 200
) -> Annotated[dict[str, dict[str, float]], "latency"]:
    """:func:`headrace.models.measure_latency` as a step of a training pipeline: the
    percentiles are recorded on the model version the run registers (and returned)."""
    from headrace.models import measure_latency

    return measure_latency(model, sample, tuple(batch_sizes or (1, 32)), repeats=repeats)
