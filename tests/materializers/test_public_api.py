"""The names the runner, the client and plugins rely on."""

from __future__ import annotations

import headrace.materializers as materializers
from headrace.materializers import _registry


def test_public_names() -> None:
    assert sorted(materializers.__all__) == [
        "HTMLString",
        "MarkdownString",
        "Materializer",
        "PNGImage",
        "apply_registrations",
        "get",
        "load",
        "register",
        "registrations",
        "save",
        "select",
        "type_name",
    ]
    for name in materializers.__all__:
        assert getattr(materializers, name).__module__.startswith("headrace.materializers")


def test_builtin_names_are_stable() -> None:
    assert sorted(_registry.BUILTIN_MATERIALIZERS) == sorted(
        [
            "arrow",
            "bytes",
            "dataclass",
            "html",
            "json",
            "markdown",
            "matplotlib",
            "numpy",
            "pandas",
            "pickle",
            "pydantic",
            "sklearn",
        ]
    )


def test_every_builtin_is_a_materializer_named_as_registered() -> None:
    for name in _registry.BUILTIN_MATERIALIZERS:
        instance = materializers.get(name)
        assert isinstance(instance, materializers.Materializer)
        assert instance.name == name


def test_builtin_type_names_match_the_classes() -> None:
    assert materializers.type_name(materializers.HTMLString) in _registry.BUILTIN_TYPES
    assert materializers.type_name(materializers.MarkdownString) in _registry.BUILTIN_TYPES
    assert materializers.type_name(materializers.PNGImage) in _registry.BUILTIN_TYPES
