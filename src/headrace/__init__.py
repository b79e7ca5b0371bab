"""headrace: data-centric machine learning pipelines.

Plain functions become steps, steps form pipelines, and every output is a versioned,
content-hashed artifact with lineage. See the docs/ folder for more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headrace.errors import (
    ArtifactCorruptedError,
    ArtifactNotFoundError,
    ConfigError,
    DefinitionError,
    HeadraceError,
    MaterializerError,
    MissingExtraError,
    RunNotFoundError,
    StepError,
    StoreError,
    TypeMismatchError,
)
from headrace.pipelines import Pipeline, Step, pipeline, step
from headrace.runner.context import StepContext, get_step_context, log_metadata, log_metric

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion, Client, Lineage, Run, StepRun
    from headrace.models import Model

__version__ = "0.1.0"

__all__ = [
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
]

_LAZY = {"Client", "Run", "StepRun", "ArtifactVersion", "Lineage"}


def __getattr__(name: str) -> Any:
    # The client pulls in SQLAlchemy; load it on first use so `import headrace` stays light.
    if name in _LAZY:
        from headrace import client

        return getattr(client, name)
    if name == "Model":
        from headrace.models import Model

        return Model
    raise AttributeError(f"module 'headrace' has no attribute {name!r}")
