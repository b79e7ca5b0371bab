"""Exports to MLflow, BentoML and Seldon Core / KServe; the MLflow and BentoML exports
are loaded by those libraries in their own virtualenvs (bench/make_export_venvs.sh)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from headrace import Client, HeadraceError
from headrace.models.export import export_version

from .helpers import REPO, assert_one_line_error, headrace

VENVS = REPO / "bench" / ".venvs"
RECORDS = [
    {"tenure_months": 3.0, "monthly_spend": 80.5, "support_calls": 4},
    {"tenure_months": 40.0, "monthly_spend": 45.0, "support_calls": 0},
]


def _venv_python(name: str) -> Path:
    python = VENVS / name / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no {name} virtualenv: run bench/make_export_venvs.sh")
    return python


def _expected(version_ref: int = 1) -> list[bool]:
    import pandas as pd

    model = Client().model("churn").version(version_ref).load()
    return [bool(v) for v in model.predict(pd.DataFrame(RECORDS))]


def _run(python: Path, code: str, cwd: Path) -> object:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "True",
        "BENTOML_HOME": str(cwd / ".bentoml"),
    }
    done = subprocess.run(
        [str(python), "-W", "ignore", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_exports_write_what_each_system_reads(trained: Path, tmp_path: Path) -> None:
    version = Client().model("churn").version(1)
    mlflow = export_version(version, "mlflow", tmp_path / "mlflow")
    assert {p.name for p in mlflow.iterdir()} == {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
    }
    mlmodel = (mlflow / "MLmodel").read_text()
    assert "loader_module: mlflow.sklearn" in mlmodel and version.id in mlmodel
    assert '\\"name\\": \\"tenure_months\\"' in mlmodel
    bento = export_version(version, "bentoml", tmp_path / "bento")
    assert "class Churn" in (bento / "service.py").read_text()
    assert "service: 'service:Churn'" in (bento / "bentofile.yaml").read_text()
    seldon = export_version(version, "seldon", tmp_path / "seldon")
    manifest = (seldon / "seldon-model.yaml").read_text()
    assert "kind: Model" in manifest and (seldon / "model").resolve().as_uri() in manifest
    assert "storageUri:" in (seldon / "kserve-inferenceservice.yaml").read_text()
    with pytest.raises(HeadraceError, match="not an empty folder"):
        export_version(version, "mlflow", tmp_path / "mlflow")
    with pytest.raises(HeadraceError, match="unknown export format"):
        export_version(version, "onnx", tmp_path / "onnx")


def test_the_cli_exports(trained: Path, tmp_path: Path) -> None:
    done = headrace(
        "models", "export", "churn@2", "--format", "seldon", "-o", tmp_path / "out", home=trained
    )
    assert done.code == 0, str(done)
    assert (tmp_path / "out" / "kserve-inferenceservice.yaml").exists()
    assert_one_line_error(
        headrace("models", "export", "churn@production", "--format", "mlflow", home=trained),
        1,
        "'production'",
    )
    assert_one_line_error(
        headrace("models", "export", "churn@1", "--format", "onnx", home=trained), 2, "onnx"
    )


@pytest.mark.export_venv
def test_mlflow_loads_the_export(trained: Path, tmp_path: Path) -> None:
    python = _venv_python("mlflow")
    folder = export_version(Client().model("churn").version(1), "mlflow", tmp_path / "model")
    code = f"""
import json, mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model({str(folder)!r})
names = [c.name for c in model.metadata.get_input_schema().inputs]
print(json.dumps([names, [bool(v) for v in model.predict(pd.DataFrame({RECORDS!r}))]]))
"""
    names, predictions = _run(python, code, tmp_path)  # type: ignore[misc]
    assert names == ["tenure_months", "monthly_spend", "support_calls"]
    assert predictions == _expected()


@pytest.mark.export_venv
def test_bentoml_loads_the_export(trained: Path, tmp_path: Path) -> None:
    python = _venv_python("bentoml")
    version = Client().model("churn").version(1)
    folder = export_version(version, "bentoml", tmp_path / "service")
    code = f"""
import json, bentoml
service = bentoml.load({str(folder)!r})
answer = service.inner().predict({RECORDS!r})
print(json.dumps([service.name, answer]))
"""
    name, answer = _run(python, code, tmp_path)  # type: ignore[misc]
    assert name == "Churn"
    assert answer["model_version_id"] == version.id
    assert answer["predictions"] == _expected()


def test_a_failed_export_leaves_nothing_and_a_non_sklearn_model_is_refused(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from headrace.models import export

    version = Client().model("churn").version(1)

    def broken(*args: object) -> None:
        raise OSError("disk trouble")

    monkeypatch.setattr(export, "_bentoml", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="disk trouble"):
        export_version(version, "bentoml", out / "bento")
    assert list(out.iterdir()) == []  # no half-written folder, no staging leftovers
    plain = SimpleNamespace(load=lambda: {"weights": [1, 2]})
    with pytest.raises(
        HeadraceError, match=r"scikit-learn model formats; this model is a builtins\.dict"
    ):
        export_version(plain, "mlflow", out / "mlflow")
    assert list(out.iterdir()) == []
