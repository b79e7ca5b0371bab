"""Module-level classes the tests store (materializers import classes by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sklearn.base import BaseEstimator

from headrace.errors import MaterializerError


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass
class Shape:
    name: str
    points: list[Point]
    tags: tuple[str, ...] = ()
    origin: Point | None = None
    area: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.area = float(len(self.points))


class Opaque:
    """Neither JSON nor a dataclass: only pickle can store it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


class Celsius(float):
    """A float subclass: still a JSON number."""


class UpperMaterializer:
    """A plugin-style materializer: stores a str upper-cased in ``upper.txt``."""

    name: ClassVar[str] = "upper"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        (folder / "upper.txt").write_text(str(obj).upper(), encoding="utf-8")
        return {"chars": len(obj)}

    def load(self, folder: Path, type_name: str) -> Any:
        return (folder / "upper.txt").read_text(encoding="utf-8")


class Shout(str):
    """A str subclass that UpperMaterializer handles once registered."""


class FailingMaterializer:
    name: ClassVar[str] = "failing"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        raise ValueError("disk on fire")

    def load(self, folder: Path, type_name: str) -> Any:
        raise OSError("gone")


class RefusingMaterializer:
    name: ClassVar[str] = "refusing"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        raise MaterializerError("not today")

    def load(self, folder: Path, type_name: str) -> Any:
        raise MaterializerError("not today")


class NamelessMaterializer:
    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        return {}

    def load(self, folder: Path, type_name: str) -> Any:
        return None


class ImpostorNumpy:
    """Claims a built-in name."""

    name: ClassVar[str] = "numpy"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        return {}

    def load(self, folder: Path, type_name: str) -> Any:
        return None


class Threshold(BaseEstimator):  # type: ignore[misc]
    """A custom scikit-learn estimator (not one skops trusts by default)."""

    def __init__(self, cut: float = 0.5) -> None:
        self.cut = cut

    def fit(self, x: Any, y: Any = None) -> Threshold:
        self.fitted_ = True
        return self
