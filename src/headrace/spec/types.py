"""The compiled form of a pipeline: plain, JSON-serializable data.

Tracing a ``@pipeline`` body yields a :class:`PipelineSpec`. Orchestrators and the step
runner consume only this spec (plus store settings), which is what lets a subprocess, a
Ray worker or a generated DAG file run the same pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from headrace.errors import ConfigError
from headrace.spec.dag import topological_order

SPEC_VERSION = 1


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """Where a step's function lives: importable module + qualname, and its file.

    ``source`` holds a captured module's text that defines ``qualname``, for a function
    no other process could import (defined in a notebook cell); None otherwise."""

    module: str
    qualname: str
    file: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class OutputSpec:
    name: str
    type: str | None = None  # the annotated type, as text, when there is one
    materializer: str | None = None  # an explicit materializer name


@dataclass(frozen=True, slots=True)
class InputBinding:
    """A step input fed by ``output`` of the step invocation ``step``."""

    step: str
    output: str


@dataclass(frozen=True, slots=True)
class StepOptions:
    cache: bool = True
    cache_version: str | None = None
    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    allow_pickle: bool = False
    materializers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds; the step then runs in its own process

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class StepSpec:
    name: str  # the invocation name, unique in the pipeline (load, load_2, or id=)
    function: FunctionRef
    code_hash: str
    parameters: dict[str, Any]
    inputs: dict[str, InputBinding]
    outputs: tuple[OutputSpec, ...]
    options: StepOptions = field(default_factory=StepOptions)
    after: tuple[str, ...] = ()

    @property
    def upstream(self) -> list[str]:
        return list(dict.fromkeys([b.step for b in self.inputs.values()] + list(self.after)))

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    name: str
    parameters: dict[str, Any]
    steps: tuple[StepSpec, ...]
    source: FunctionRef | None = None

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"pipeline '{self.name}' has no step '{name}'")

    @property
    def upstream(self) -> dict[str, list[str]]:
        return {s.name: s.upstream for s in self.steps}

    def order(self) -> list[str]:
        """Step names in an order where every step follows its upstream steps."""
        return topological_order(self.upstream)

    # -- serialization ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "spec_version": SPEC_VERSION,
            "name": self.name,
            "parameters": self.parameters,
            "source": _ref_to_dict(self.source) if self.source else None,
            "steps": [
                {
                    "name": s.name,
                    "function": _ref_to_dict(s.function),
                    "code_hash": s.code_hash,
                    "parameters": s.parameters,
                    "inputs": {
                        k: {"step": b.step, "output": b.output} for k, b in s.inputs.items()
                    },
                    "outputs": [
                        {"name": o.name, "type": o.type, "materializer": o.materializer}
                        for o in s.outputs
                    ],
                    "options": {f.name: getattr(s.options, f.name) for f in fields(StepOptions)},
                    "after": list(s.after),
                }
                for s in self.steps
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        version = data.get("spec_version")
        if version != SPEC_VERSION:
            raise ConfigError(
                f"pipeline spec version {version!r} is not supported (expected {SPEC_VERSION})"
            )
        try:
            steps = tuple(
                StepSpec(
                    name=s["name"],
                    function=FunctionRef(**s["function"]),
                    code_hash=s["code_hash"],
                    parameters=dict(s["parameters"]),
                    inputs={k: InputBinding(**b) for k, b in s["inputs"].items()},
                    outputs=tuple(OutputSpec(**o) for o in s["outputs"]),
                    options=StepOptions(**s["options"]),
                    after=tuple(s.get("after", ())),
                )
                for s in data["steps"]
            )
            source = FunctionRef(**data["source"]) if data.get("source") else None
            return cls(
                name=data["name"], parameters=dict(data["parameters"]), steps=steps, source=source
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed pipeline spec: {exc}") from exc


def _ref_to_dict(ref: FunctionRef) -> dict[str, Any]:
    data: dict[str, Any] = {"module": ref.module, "qualname": ref.qualname, "file": ref.file}
    if ref.source is not None:
        data["source"] = ref.source
    return data
