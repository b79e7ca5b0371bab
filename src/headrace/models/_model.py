"""``Model``: the light description a pipeline carries; each completed run of that
pipeline becomes a new version of the named model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from headrace.errors import DefinitionError

#: The stage aliases: a version holds at most one of them, and each points at one version.
STAGES = ("staging", "production", "archived")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SIGNATURE_TYPES = frozenset({"number", "integer", "boolean", "string"})


def check_name(name: object, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"{what} {name!r} must be 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Model:
    """A registered model that pipeline runs add versions to.

    ``artifact`` names the output that is the model object, ``metrics`` the output with
    a dict of numbers recorded as the version's metrics, ``data`` the training data
    (default: the inputs of the step that produced the model). ``signature`` maps input
    feature names to ``number``/``integer``/``boolean``/``string``; by default it is read
    from the fitted model (``feature_names_in_``) and the training data's column types.
    """

    name: str
    artifact: str = "model"
    metrics: str | None = "metrics"
    data: str | None = None
    description: str | None = None
    signature: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.signature is not None:
            bad = {k: v for k, v in self.signature.items() if v not in SIGNATURE_TYPES}
            if bad:
                raise DefinitionError(
                    f"model '{self.name}': signature types must be one of "
                    f"{', '.join(sorted(SIGNATURE_TYPES))}, got {bad}"
                )
