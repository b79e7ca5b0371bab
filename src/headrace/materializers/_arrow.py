"""``arrow``: pyarrow Tables as Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headrace.materializers._imports import require

FILE = "data.parquet"


def _pq() -> Any:
    return require("pyarrow.parquet", package="pyarrow", extra="ml", purpose="Parquet files")


class ArrowMaterializer:
    """Writes ``data.parquet`` with the Arrow schema embedded, so column types (large
    strings, dictionaries, time zones) load back unchanged; loads a ``pyarrow.Table``."""

    name: ClassVar[str] = "arrow"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        pq = _pq()
        pq.write_table(obj, folder / FILE)
        return {
            "rows": int(obj.num_rows),
            "columns": int(obj.num_columns),
            "schema": {str(field.name): str(field.type) for field in obj.schema},
            "nbytes": int(obj.nbytes),
        }

    def load(self, folder: Path, type_name: str) -> Any:
        return _pq().read_table(folder / FILE)
