"""What a materializer is: it turns one kind of Python object into files and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class Materializer(Protocol):
    """Saves an object into an empty folder and loads it back.

    ``name`` is the stable id recorded with each artifact version, so a stored artifact
    is always loaded by the materializer that wrote it. ``save`` returns metadata that
    describes the value (type, shape, dtype, rows, schema, ...): JSON values only.
    """

    name: ClassVar[str]

    def save(self, obj: Any, folder: Path) -> dict[str, Any]: ...

    def load(self, folder: Path, type_name: str) -> Any: ...
