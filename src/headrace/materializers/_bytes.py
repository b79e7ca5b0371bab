"""``bytes``: bytes and bytearray, written as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

FILE = "data.bin"


class BytesMaterializer:
    """Writes ``data.bin``; a ``bytearray`` loads back as a ``bytearray``."""

    name: ClassVar[str] = "bytes"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes or bytearray, got {type(obj).__name__}")
        data = bytes(obj)
        (folder / FILE).write_bytes(data)
        return {"size": len(data)}

    def load(self, folder: Path, type_name: str) -> Any:
        data = (folder / FILE).read_bytes()
        return bytearray(data) if type_name == "builtins.bytearray" else data
