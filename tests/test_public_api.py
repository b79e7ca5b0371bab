"""Lock the public names of DESIGN.md §2 and keep `import headrace` light."""

from __future__ import annotations

import json
import subprocess
import sys

import headrace

PUBLIC = {
    "ArtifactCorruptedError",
    "ArtifactNotFoundError",
    "ArtifactVersion",
    "Client",
    "ConfigError",
    "DefinitionError",
    "HeadraceError",
    "Lineage",
    "MaterializerError",
    "MissingExtraError",
    "Model",
    "Pipeline",
    "Run",
    "RunNotFoundError",
    "Step",
    "StepContext",
    "StepError",
    "StepRun",
    "StoreError",
    "TypeMismatchError",
    "__version__",
    "get_step_context",
    "log_metadata",
    "log_metric",
    "pipeline",
    "step",
}

HEAVY = [
    "numpy",
    "pandas",
    "pyarrow",
    "sklearn",
    "matplotlib",
    "sqlalchemy",
    "alembic",
    "fsspec",
    "yaml",
    "scipy",
]


def test_exported_names_are_exactly_the_contract() -> None:
    assert set(headrace.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(headrace, name) is not None, name


def test_errors_share_one_root() -> None:
    for name in PUBLIC:
        obj = getattr(headrace, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, headrace.HeadraceError), name
    assert issubclass(headrace.ArtifactNotFoundError, KeyError)
    assert issubclass(headrace.ConfigError, ValueError)


def test_import_headrace_loads_no_heavy_library() -> None:
    code = (
        "import sys, json, headrace\n"
        "from headrace import step, pipeline, get_step_context, log_metadata\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_defining_and_tracing_a_pipeline_loads_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "from headrace import step, pipeline\n"
        "@step\n"
        "def a(n: int = 1) -> int:\n    return n\n"
        "@pipeline\n"
        "def p():\n    a()\n"
        "p.compile()\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
