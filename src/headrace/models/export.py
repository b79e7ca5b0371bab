"""Write a model version in the form another serving system loads.

- ``mlflow``: an MLflow model folder (``MLmodel`` with the ``python_function`` and
  ``sklearn`` flavors, the pickled estimator, its signature and environment files);
  ``mlflow.pyfunc.load_model(folder)`` and ``mlflow models serve -m folder`` load it.
- ``bentoml``: a BentoML 1.4 service (``service.py``, ``bentofile.yaml``, the model);
  ``bentoml serve service:<Model>`` in the folder serves it.
- ``seldon``: a Seldon Core v2 ``Model`` and a KServe ``InferenceService`` manifest
  pointing at the MLflow folder written next to them (``storageUri``), plus that folder.

The estimator is written with pickle, the format those systems read: only export
models from a store you trust, and only load exports you wrote.
"""

from __future__ import annotations

import json
import pickle
import platform
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError

FORMATS = ("mlflow", "bentoml", "seldon")
_MLFLOW_TYPES = {"number": "double", "integer": "long", "boolean": "boolean", "string": "string"}


def export_version(version: Any, fmt: str, target: Path) -> Path:
    """Write ``version`` (a ModelVersion) as ``fmt`` into the folder ``target``."""
    if fmt not in FORMATS:
        raise HeadraceError(f"unknown export format '{fmt}' (formats: {', '.join(FORMATS)})")
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise HeadraceError(f"{target} exists and is not an empty folder")
    obj = version.load()
    if not any(
        f"{c.__module__}.{c.__qualname__}" == "sklearn.base.BaseEstimator"
        for c in type(obj).__mro__
    ):
        raise HeadraceError(
            f"export writes scikit-learn model formats; this model is a "
            f"{type(obj).__module__}.{type(obj).__qualname__}"
        )
    # Write next to the target and rename at the end: a failure halfway leaves no
    # half-written folder that a retry would refuse.
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if fmt == "mlflow":
            _mlflow(version, obj, staging)
        elif fmt == "bentoml":
            _bentoml(version, obj, staging)
        else:
            _seldon(version, obj, staging, final=target)
        if target.exists():
            target.rmdir()  # the empty folder checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _requirements(obj: Any) -> list[str]:
    reqs = []
    import sklearn

    reqs.append(f"scikit-learn=={sklearn.__version__}")
    try:
        import numpy

        reqs.append(f"numpy=={numpy.__version__}")
    except ImportError:  # pragma: no cover - sklearn needs numpy
        pass
    return reqs


def _inputs(version: Any) -> list[dict[str, str]]:
    signature = version.signature or {}
    return [dict(i) for i in signature.get("inputs", [])]


def _mlflow(version: Any, obj: Any, folder: Path) -> None:
    import sklearn

    (folder / "model.pkl").write_bytes(pickle.dumps(obj, protocol=4))
    python = platform.python_version()
    requirements = _requirements(obj)
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (folder / "python_env.yaml").write_text(
        f"python: {python}\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n",
        encoding="utf-8",
    )
    (folder / "conda.yaml").write_text(
        "channels:\n- conda-forge\ndependencies:\n"
        f"- python={python}\n- pip\n- pip:\n"
        + "".join(f"  - {r}\n" for r in requirements)
        + "name: mlflow-env\n",
        encoding="utf-8",
    )
    inputs = [
        {"type": _MLFLOW_TYPES.get(i["type"], "string"), "name": i["name"], "required": True}
        for i in _inputs(version)
    ]
    lines = [
        "artifact_path: model",
        "flavors:",
        "  python_function:",
        "    env:",
        "      conda: conda.yaml",
        "      virtualenv: python_env.yaml",
        "    loader_module: mlflow.sklearn",
        "    model_path: model.pkl",
        "    predict_fn: predict",
        f"    python_version: {python}",
        "  sklearn:",
        "    code: null",
        "    pickled_model: model.pkl",
        "    serialization_format: pickle",
        f"    sklearn_version: {sklearn.__version__}",
        f"model_uuid: {uuid.uuid4().hex}",
        f"utc_time_created: '{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}.000000'",
        "metadata:",
        f"  headrace_model: {json.dumps(version.model)}",
        f"  headrace_version: {version.version}",
        f"  headrace_model_version_id: {version.id}",
        f"  headrace_run_id: {json.dumps(version.run_id)}",
    ]
    if inputs:
        lines += [
            "signature:",
            f"  inputs: {json.dumps(json.dumps(inputs))}",
            "  outputs: null",
            "  params: null",
        ]
    (folder / "MLmodel").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _class_name(model: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", model)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name and name[0].isalpha() else f"Model{name}"


def _bentoml(version: Any, obj: Any, folder: Path) -> None:
    (folder / "model.pkl").write_bytes(pickle.dumps(obj, protocol=4))
    name = _class_name(version.model)
    features = [i["name"] for i in _inputs(version)]
    proba = hasattr(obj, "predict_proba")
    service = f'''"""BentoML service of {version.model} v{version.version} (model version {version.id}),
exported by headrace. Serve it with: bentoml serve service:{name}"""

import pickle
from pathlib import Path
from typing import Any

import bentoml

FEATURES = {features!r}
MODEL_VERSION_ID = {version.id!r}


@bentoml.service
class {name}:
    def __init__(self) -> None:
        with open(Path(__file__).with_name("model.pkl"), "rb") as handle:
            self.model = pickle.load(handle)

    @bentoml.api
    def predict(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        import pandas as pd

        frame = pd.DataFrame(records, columns=FEATURES or None)
        answer: dict[str, Any] = {{
            "model_version_id": MODEL_VERSION_ID,
            "predictions": [v.item() if hasattr(v, "item") else v for v in self.model.predict(frame)],
        }}
        if {proba!r}:
            answer["probabilities"] = [float(p[-1]) for p in self.model.predict_proba(frame)]
        return answer
'''
    (folder / "service.py").write_text(service, encoding="utf-8")
    requirements = [*_requirements(obj), "pandas"]
    (folder / "bentofile.yaml").write_text(
        f"service: 'service:{name}'\ninclude:\n- service.py\n- model.pkl\n"
        "python:\n  packages:\n" + "".join(f"  - {r}\n" for r in requirements),
        encoding="utf-8",
    )


def _seldon(version: Any, obj: Any, folder: Path, final: Path | None = None) -> None:
    """``final`` is where ``folder`` will be renamed to: the manifests name that place."""
    model_dir = folder / "model"
    model_dir.mkdir()
    _mlflow(version, obj, model_dir)
    uri = ((final or folder) / "model").resolve().as_uri()
    name = re.sub(r"[^a-z0-9-]+", "-", f"{version.model}-v{version.version}".lower()).strip("-")
    seldon = (
        "apiVersion: mlops.seldon.io/v1alpha1\n"
        "kind: Model\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  annotations:\n"
        f"    headrace.dev/model-version-id: {version.id}\n"
        "spec:\n"
        f"  storageUri: {uri}\n"
        "  requirements:\n"
        "  - mlflow\n"
    )
    kserve = (
        "apiVersion: serving.kserve.io/v1beta1\n"
        "kind: InferenceService\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  annotations:\n"
        f"    headrace.dev/model-version-id: {version.id}\n"
        "spec:\n"
        "  predictor:\n"
        "    model:\n"
        "      modelFormat:\n"
        "        name: mlflow\n"
        "      protocolVersion: v2\n"
        f"      storageUri: {uri}\n"
    )
    (folder / "seldon-model.yaml").write_text(seldon, encoding="utf-8")
    (folder / "kserve-inferenceservice.yaml").write_text(kserve, encoding="utf-8")
