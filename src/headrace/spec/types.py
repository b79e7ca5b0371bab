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
    # The artifact name its versions are stored under: the output name, unless two step
    # invocations of one pipeline produce the same name (then ``invocation.output``), or
    # the step sits in a sub-pipeline (``namespace.output``).
    artifact: str | None = None

    @property
    def artifact_name(self) -> str:
        return self.artifact or self.name


@dataclass(frozen=True, slots=True)
class InputBinding:
    """A step input fed by ``output`` of the step invocation ``step``."""

    step: str
    output: str
    # The producer is a mapped step: the input receives the list of every element's
    # output, in element order (or, as a step's map_over input, one element each).
    collect: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step, "output": self.output}
        if self.collect:
            data["collect"] = True
        return data


#: What feeds one input: one step output, or a list of them (``list[T]`` fan-in).
Binding = InputBinding | tuple[InputBinding, ...]


def bindings_of(binding: Binding) -> tuple[InputBinding, ...]:
    return binding if isinstance(binding, tuple) else (binding,)


@dataclass(frozen=True, slots=True)
class StepOptions:
    cache: bool = True
    cache_version: str | None = None
    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    allow_pickle: bool = False
    materializers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds of the step's own time, per attempt
    resources: dict[str, Any] = field(default_factory=dict)  # {"cpu": 2, "memory": "4GB"}

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class StepSpec:
    name: str  # the invocation name, unique in the pipeline (load, load_2, or id=)
    function: FunctionRef
    code_hash: str
    parameters: dict[str, Any]
    inputs: dict[str, Binding]
    outputs: tuple[OutputSpec, ...]
    options: StepOptions = field(default_factory=StepOptions)
    after: tuple[str, ...] = ()
    # ``step.map(items)``: the argument that receives one element per mapped step run.
    map_over: str | None = None

    @property
    def upstream(self) -> list[str]:
        steps = [b.step for binding in self.inputs.values() for b in bindings_of(binding)]
        return list(dict.fromkeys(steps + list(self.after)))

    def output(self, name: str) -> OutputSpec:
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(f"step '{self.name}' has no output '{name}'")

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
                        k: [x.to_dict() for x in b] if isinstance(b, tuple) else b.to_dict()
                        for k, b in s.inputs.items()
                    },
                    "outputs": [
                        {
                            "name": o.name,
                            "type": o.type,
                            "materializer": o.materializer,
                            **({"artifact": o.artifact} if o.artifact else {}),
                        }
                        for o in s.outputs
                    ],
                    "options": {f.name: getattr(s.options, f.name) for f in fields(StepOptions)},
                    "after": list(s.after),
                    **({"map_over": s.map_over} if s.map_over else {}),
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
                    inputs={k: _binding(b) for k, b in s["inputs"].items()},
                    outputs=tuple(OutputSpec(**o) for o in s["outputs"]),
                    options=StepOptions(**s["options"]),
                    after=tuple(s.get("after", ())),
                    map_over=s.get("map_over"),
                )
                for s in data["steps"]
            )
            source = FunctionRef(**data["source"]) if data.get("source") else None
            return cls(
                name=data["name"], parameters=dict(data["parameters"]), steps=steps, source=source
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed pipeline spec: {exc}") from exc


def _binding(data: Any) -> Binding:
    if isinstance(data, list):
        return tuple(InputBinding(**b) for b in data)
    return InputBinding(**data)


def _ref_to_dict(ref: FunctionRef) -> dict[str, Any]:
    data: dict[str, Any] = {"module": ref.module, "qualname": ref.qualname, "file": ref.file}
    if ref.source is not None:
        data["source"] = ref.source
    return data
