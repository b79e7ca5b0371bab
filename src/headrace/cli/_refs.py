"""What commands take from the user: the client of the chosen home, ``NAME[:VERSION]``
artifact references and ``-p KEY=VALUE`` parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from headrace.cli._errors import state

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion, Client


def open_client() -> Client:
    """A client of the home chosen by ``--home`` or the usual resolution."""
    from headrace.client import Client

    home = state().home
    return Client(home=home) if home is not None else Client()


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    version: int | None  # None: the latest

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"

    def resolve(self, client: Client) -> ArtifactVersion:
        return client.artifact(self.name, self.version)


class ArtifactRefType(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """``NAME`` (the latest version), ``NAME:VERSION`` or ``NAME:latest``."""

    name = "NAME[:VERSION]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> ArtifactRef:
        if isinstance(value, ArtifactRef):
            return value
        text = str(value).strip()
        name, sep, version = text.partition(":")
        if not name:
            self.fail(f"{text!r} has no artifact name; expected NAME or NAME:VERSION", param, ctx)
        if not sep or version == "latest":
            return ArtifactRef(name, None)
        if not version.isdigit() or int(version) < 1:
            self.fail(
                f"{text!r}: the version must be a positive whole number (or 'latest'), "
                f"not {version!r}",
                param,
                ctx,
            )
        return ArtifactRef(name, int(version))


ARTIFACT_REF = ArtifactRefType()


def parse_parameters(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; each value is read as JSON, else taken as a plain string."""
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        if not key.isidentifier():
            raise click.BadParameter(
                f"{key!r} in {item!r} is not a parameter name", ctx=ctx, param=param
            )
        try:
            parsed[key] = json.loads(raw, parse_constant=_refuse_constant)
        except ValueError:
            parsed[key] = raw
    return parsed


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON parameters; keep them as the strings they were.
    raise ValueError(name)
