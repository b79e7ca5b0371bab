"""``dataclass``: dataclass instances whose fields are JSON values or dataclasses."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, ClassVar

from headrace.errors import MaterializerError
from headrace.materializers import _json_codec as codec
from headrace.materializers._imports import import_qualified

FILE = "data.json"


class DataclassMaterializer:
    """Writes ``data.json`` holding the class's qualified name and its fields (encoded
    like the ``json`` materializer; nested dataclasses are tagged with their class).
    Loading imports each class by name and builds instances field by field, so classes
    must live at module level of an importable module and keep their field names."""

    name: ClassVar[str] = "dataclass"

    def unsupported_reason(self, obj: Any) -> str | None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            return "the value is not a dataclass instance"
        try:
            codec.Encoder(dataclasses=True).encode(obj)
        except codec.NotJSONError as exc:
            return str(exc)
        return _init_only_parameters(type(obj))

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        reason = self.unsupported_reason(obj)
        if reason:
            raise MaterializerError(reason)
        data = codec.Encoder(dataclasses=True).encode(obj)
        (folder / FILE).write_text(codec.dumps(data), encoding="utf-8")
        cls = type(obj)
        return {
            "dataclass": f"{cls.__module__}.{cls.__qualname__}",
            "fields": [f.name for f in dataclasses.fields(obj)],
        }

    def load(self, folder: Path, type_name: str) -> Any:
        data = codec.loads((folder / FILE).read_text(encoding="utf-8"))
        return codec.decode(data, dataclass=_build)


def _init_only_parameters(cls: type) -> str | None:
    """A dataclass whose ``__init__`` needs InitVar arguments cannot be rebuilt from fields."""
    field_names = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return None
    missing = [
        p.name
        for p in parameters
        if p.name not in field_names
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if missing:
        return (
            f"the dataclass needs init-only arguments ({', '.join(missing)}) "
            "that are not stored as fields"
        )
    return None


def _build(name: str, values: dict[str, Any]) -> Any:
    cls = import_qualified(name)
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise MaterializerError(f"'{name}' is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise MaterializerError(
            f"stored fields {', '.join(sorted(unknown))} no longer exist on dataclass '{name}'"
        )
    instance = cls(**{k: v for k, v in values.items() if fields[k].init})
    for key, value in values.items():
        if not fields[key].init:
            object.__setattr__(instance, key, value)
    return instance
