"""``json``: None, bool, int, float, str, and lists, tuples and dicts of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headrace.materializers import _json_codec as codec

FILE = "data.json"


class JSONMaterializer:
    """Writes ``data.json``. NaN and infinities, tuples (as opposed to lists) and dicts
    with non-str keys survive the round trip (see :mod:`._json_codec`); subclasses of
    dict, list, str, ... and numpy scalars inside a container load back as the plain
    builtin they are a kind of."""

    name: ClassVar[str] = "json"

    def unsupported_reason(self, obj: Any) -> str | None:
        try:
            codec.Encoder().encode(obj)
        except codec.NotJSONError as exc:
            return str(exc)
        return None

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        data = codec.Encoder().encode(obj)
        (folder / FILE).write_text(codec.dumps(data), encoding="utf-8")
        metadata: dict[str, Any] = {"python_type": _builtin_kind(obj)}
        if isinstance(obj, (list, tuple, dict, str)):
            metadata["length"] = len(obj)
        if isinstance(obj, dict):
            metadata["keys"] = [str(k) for k in list(obj)[:50]]
        return metadata

    def load(self, folder: Path, type_name: str) -> Any:
        return codec.decode(codec.loads((folder / FILE).read_text(encoding="utf-8")))


def _builtin_kind(obj: Any) -> str:
    for kind in (bool, int, float, str, list, tuple, dict):
        if isinstance(obj, kind):
            return kind.__name__
    return "None" if obj is None else type(obj).__name__
