"""Python values to strict JSON and back, losing nothing a JSON materializer promises.

Plain JSON cannot tell a tuple from a list, has no NaN or infinity and only str keys.
Those few cases become one-key objects with a ``$`` tag; everything else is written as
ordinary JSON, so a stored file stays readable by any JSON tool::

    float("nan")        {"$float": "nan"}          ("inf", "-inf" likewise)
    (1, 2)              {"$tuple": [1, 2]}
    {1: "a"}            {"$items": [[1, "a"]]}     (keys that are not all str)
    {"$tuple": 1}       {"$dict": {"$tuple": 1}}   (a real one-key dict whose key starts with $)
    Point(x=1)          {"$dataclass": {"class": "pkg.mod.Point", "fields": {"x": 1}}}

The dataclass tag is only written and read when the caller asks for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

# numpy scalars are stored as the Python number they equal (found by name, so checking
# a value never imports numpy); they load back as int, float or bool.
_NUMPY_SCALARS = frozenset({"numpy.integer", "numpy.floating", "numpy.bool", "numpy.bool_"})
_MAX_DEPTH = 200  # well inside the interpreter's recursion limit


class NotJSONError(TypeError):
    """A value has a part JSON cannot represent; ``path`` says where."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        where = f" at {path}" if path else ""
        super().__init__(f"the value{where} {reason}")


def _type_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_numpy_scalar(obj: object) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" in _NUMPY_SCALARS for c in type(obj).__mro__)


class Encoder:
    """Turns a value into JSON-compatible data; with ``dataclasses=True`` dataclass
    instances (of importable classes) become tagged objects too."""

    def __init__(self, *, dataclasses: bool = False) -> None:
        self._dataclasses = dataclasses
        self._active: set[int] = set()

    def encode(self, obj: Any, path: str = "") -> Any:
        if len(self._active) > _MAX_DEPTH:
            raise NotJSONError(path, f"is nested more than {_MAX_DEPTH} levels deep")
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return _encode_float(float(obj))
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, (list, tuple, dict)) or self._is_dataclass(obj):
            key = id(obj)
            if key in self._active:
                raise NotJSONError(path, "contains itself (a reference cycle)")
            self._active.add(key)
            try:
                return self._encode_container(obj, path)
            finally:
                self._active.discard(key)
        if _is_numpy_scalar(obj):
            return self.encode(obj.item(), path)
        raise NotJSONError(path, f"is a {_type_name(obj)}, which JSON cannot represent")

    def _is_dataclass(self, obj: Any) -> bool:
        if not self._dataclasses:
            return False
        import dataclasses

        return dataclasses.is_dataclass(obj) and not isinstance(obj, type)

    def _encode_container(self, obj: Any, path: str) -> Any:
        if isinstance(obj, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"$tuple": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            return self._encode_dict(obj, path)
        return self._encode_dataclass(obj, path)

    def _encode_dict(self, obj: dict[Any, Any], path: str) -> Any:
        if all(isinstance(k, str) for k in obj):
            out = {str(k): self.encode(v, f"{path}[{k!r}]") for k, v in obj.items()}
            if len(out) == 1 and next(iter(out)).startswith("$"):
                return {"$dict": out}
            return out
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, tuple)) and k is not None:
                raise NotJSONError(path, f"has a key of type {_type_name(k)}")
            items.append([self.encode(k, f"{path}.keys()"), self.encode(v, f"{path}[{k!r}]")])
        return {"$items": items}

    def _encode_dataclass(self, obj: Any, path: str) -> Any:
        import dataclasses

        from headrace.materializers._imports import is_importable

        cls = type(obj)
        name = _type_name(obj)
        if not is_importable(cls):
            raise NotJSONError(
                path,
                f"is a {name}, a class that cannot be imported back by that name "
                "(defined inside a function, or in a module that is not importable)",
            )
        fields = {
            f.name: self.encode(getattr(obj, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(obj)
        }
        return {"$dataclass": {"class": name, "fields": fields}}


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def decode(data: Any, *, dataclass: Callable[[str, dict[str, Any]], Any] | None = None) -> Any:
    """The value :meth:`Encoder.encode` turned into ``data``; ``dataclass(name, fields)``
    rebuilds tagged dataclass instances (without it the tag is an error)."""
    if isinstance(data, list):
        return [decode(v, dataclass=dataclass) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        tag, body = next(iter(data.items()))
        if tag == "$float":
            return float(body)
        if tag == "$tuple":
            return tuple(decode(v, dataclass=dataclass) for v in _as_list(body, tag))
        if tag == "$dict":
            return {k: decode(v, dataclass=dataclass) for k, v in _as_dict(body, tag).items()}
        if tag == "$items":
            return {
                _hashable(decode(k, dataclass=dataclass)): decode(v, dataclass=dataclass)
                for k, v in (_pair(item) for item in _as_list(body, tag))
            }
        if tag == "$dataclass":
            if dataclass is None:
                raise ValueError("a dataclass tag where none is expected")
            spec = _as_dict(body, tag)
            name, fields = spec.get("class"), spec.get("fields")
            if not isinstance(name, str):
                raise ValueError("a dataclass tag without a class name")
            decoded = {k: decode(v, dataclass=dataclass) for k, v in _as_dict(fields, tag).items()}
            return dataclass(name, decoded)
    return {k: decode(v, dataclass=dataclass) for k, v in data.items()}


def _as_list(body: Any, tag: str) -> list[Any]:
    if not isinstance(body, list):
        raise ValueError(f"the body of a {tag} tag is not a list")
    return body


def _as_dict(body: Any, tag: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"the body of a {tag} tag is not an object")
    return body


def _pair(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("an $items entry is not a [key, value] pair")
    return item[0], item[1]


def _hashable(key: Any) -> Any:
    hash(key)  # a corrupted file could put a list here
    return key


def dumps(data: Any) -> str:
    """Strict JSON text (no NaN, ASCII-escaped so any Python str survives)."""
    return json.dumps(data, allow_nan=False, ensure_ascii=True)


def loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def is_json(obj: Any) -> bool:
    try:
        Encoder().encode(obj)
    except NotJSONError:
        return False
    return True


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A JSON value for metadata: numpy scalars become numbers, missing values None,
    non-finite floats the strings ``"nan"``, ``"inf"``, ``"-inf"``, anything else its str."""
    if _depth > 50:
        return str(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, _depth + 1) for v in value]
    module = type(value).__module__ or ""
    if module.startswith("numpy"):
        return _numpy_safe(value, _depth)
    if module.startswith("pandas") and type(value).__name__ in {"NAType", "NaTType"}:
        return None
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def _numpy_safe(value: Any, depth: int) -> Any:
    tolist = getattr(value, "tolist", None)
    if not callable(tolist):
        return str(value)
    plain = tolist()
    if type(plain).__module__.startswith("numpy"):  # e.g. longdouble stays numpy
        try:
            plain = float(plain)
        except (TypeError, ValueError):
            return str(value)
    return json_safe(plain, depth + 1)
