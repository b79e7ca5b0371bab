"""Pure data and graph logic: pipeline specs, the DAG, canonical JSON. Standard library only."""

from headrace.spec.canonical import canonical_json, is_json_value, sha256_hex
from headrace.spec.dag import downstream_of, topological_order
from headrace.spec.types import (
    Binding,
    FunctionRef,
    InputBinding,
    OutputSpec,
    PipelineSpec,
    StepOptions,
    StepSpec,
    bindings_of,
)

__all__ = [
    "Binding",
    "FunctionRef",
    "InputBinding",
    "OutputSpec",
    "PipelineSpec",
    "StepOptions",
    "StepSpec",
    "bindings_of",
    "canonical_json",
    "downstream_of",
    "is_json_value",
    "sha256_hex",
    "topological_order",
]
