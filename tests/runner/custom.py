"""A user type with its own materializer, registered in the driver only (see
test_a_materializer_registered_in_the_driver_reaches_a_step_process)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from headrace import pipeline, step


@dataclass(frozen=True)
class Celsius:
    degrees: float


class CelsiusMaterializer:
    name = "celsius"

    def save(self, obj: Celsius, folder: Path) -> dict[str, Any]:
        (folder / "celsius.json").write_text(json.dumps({"degrees": obj.degrees}))
        return {"degrees": obj.degrees}

    def load(self, folder: Path, type_name: str) -> Celsius:
        return Celsius(json.loads((folder / "celsius.json").read_text())["degrees"])


@step
def measure() -> Annotated[Celsius, "reading"]:
    return Celsius(21.5)


@pipeline
def measured() -> None:
    measure()
