"""Pure data and graph logic: pipeline specs, the DAG, canonical JSON. Standard library only."""

from headrace.spec.canonical import canonical_json, is_json_value, sha256_hex
from headrace.spec.dag import downstream_of, topological_order
from headrace.spec.types import (
    FunctionRef,
    InputBinding,
    OutputSpec,
    PipelineSpec,
    StepOptions,
    StepSpec,
)

__all__ = [
    "FunctionRef",
    "InputBinding",
    "OutputSpec",
    "PipelineSpec",
    "StepOptions",
    "StepSpec",
    "canonical_json",
    "downstream_of",
    "is_json_value",
    "sha256_hex",
    "topological_order",
]
