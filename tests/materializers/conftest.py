from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from headrace import materializers
from headrace.materializers import _registry


@pytest.fixture(autouse=True)
def registry() -> Iterator[_registry.Registry]:
    """Each test gets its own registry, with no plugins unless it installs some."""
    fresh = _registry.Registry(discover=lambda: [])
    saved = _registry.REGISTRY
    _registry.REGISTRY = fresh
    try:
        yield fresh
    finally:
        _registry.REGISTRY = saved


RoundTrip = Callable[..., tuple[Any, dict[str, Any]]]


@pytest.fixture
def roundtrip(tmp_path: Path) -> RoundTrip:
    """Select (or use ``materializer``), save, load; returns (loaded value, metadata)."""
    counter = iter(range(1_000_000))

    def run(
        value: Any, materializer: str | None = None, **select: Any
    ) -> tuple[Any, dict[str, Any]]:
        chosen = materializers.select(value, override=materializer, **select)
        folder = tmp_path / f"artifact-{next(counter)}"
        metadata = materializers.save(value, folder, chosen)
        json.dumps(metadata, allow_nan=False)  # strict JSON, always
        assert metadata["materializer"] == chosen.name
        assert metadata["type"] == materializers.type_name(value)
        return materializers.load(folder, chosen.name, metadata["type"]), metadata

    return run
