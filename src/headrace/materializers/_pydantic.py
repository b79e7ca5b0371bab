"""``pydantic``: pydantic v2 models as the JSON they serialize to."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headrace.errors import MaterializerError
from headrace.materializers._imports import import_qualified, is_importable

FILE = "model.json"


class PydanticMaterializer:
    """Writes ``model.model_dump_json()`` to ``model.json`` and loads it with the model
    class's ``model_validate_json``; the class is imported by its qualified name, so it
    must be defined at module level of an importable module."""

    name: ClassVar[str] = "pydantic"

    def unsupported_reason(self, obj: Any) -> str | None:
        cls = type(obj)
        if not is_importable(cls):
            return (
                f"the value is a {cls.__module__}.{cls.__qualname__}, a model class that cannot be "
                "imported back by that name (define it at module level)"
            )
        return None

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        (folder / FILE).write_text(obj.model_dump_json(), encoding="utf-8")
        cls = type(obj)
        return {
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "fields": list(cls.model_fields),
        }

    def load(self, folder: Path, type_name: str) -> Any:
        cls = import_qualified(type_name)
        validate = getattr(cls, "model_validate_json", None)
        if not isinstance(cls, type) or not callable(validate):
            raise MaterializerError(f"'{type_name}' is not a pydantic model class")
        return validate((folder / FILE).read_text(encoding="utf-8"))
