"""``headrace models list|show|promote|history|export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client

if TYPE_CHECKING:
    from headrace.models.registry import ModelVersion
    from headrace.store.records import PromotionRecord


def _split(ref: str) -> tuple[str, str]:
    name, sep, version = ref.partition("@")
    if not name or (sep and not version):
        raise click.UsageError(
            f"'{ref}' is not MODEL[@VERSION|ALIAS] (e.g. churn@production, churn@3)"
        )
    return name, version or "latest"


def version_dict(version: ModelVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "model": version.model,
        "version": version.version,
        "aliases": list(version.aliases),
        "run_id": version.run_id,
        "created_at": out.iso_time(version.record.created_at),
        "metrics": version.metrics,
        "latency": version.latency,
        "signature": version.signature,
        "drift": version.metadata.get("drift"),
        "artifacts": {
            name: {"id": vid, "role": version.record.roles.get(name)}
            for name, vid in version.record.artifacts.items()
        },
    }


def promotion_dict(record: PromotionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "model": record.model,
        "alias": record.alias,
        "version": record.version,
        "model_version_id": record.model_version_id,
        "previous_version": record.previous_version,
        "actor": record.actor,
        "reason": record.reason,
        "checks": record.checks,
        "at": out.iso_time(record.created_at),
    }


@click.group()
def models() -> None:
    """List registered models, show versions, promote them through gates, export them.

    MODEL@REF names a version: a number (churn@3), an alias (churn@production) or
    `latest` (the default).
    """


@models.command("list")
@click.argument("model", required=False, metavar="[MODEL]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_models(model: str | None, as_json: bool) -> None:
    """List models with their latest version and aliases, or the versions of MODEL."""
    client = open_client()
    if model is not None:
        versions = client.model(model).versions()
        if as_json:
            out.echo_json([version_dict(v) for v in versions])
            return
        rows = [
            [
                str(v.version),
                ",".join(v.aliases) or "-",
                (v.run_id or "-")[:12],
                out.local_time(v.record.created_at),
                out.key_values(v.metrics, limit=20),
            ]
            for v in versions
        ]
        out.table(["VERSION", "ALIASES", "RUN", "CREATED", "METRICS"], rows)
        return
    found = client.models()
    if as_json:
        out.echo_json(
            [
                {
                    "name": m.name,
                    "description": m.description,
                    "latest_version": m.latest_version,
                    "aliases": m.aliases,
                }
                for m in found
            ]
        )
        return
    if not found:
        click.echo("no models yet")
        return
    rows = [
        [
            m.name,
            str(m.latest_version or "-"),
            " ".join(f"{a}=v{v}" for a, v in m.aliases.items()) or "-",
            m.description or "",
        ]
        for m in found
    ]
    out.table(["MODEL", "LATEST", "ALIASES", "DESCRIPTION"], rows)


@models.command("show")
@click.argument("ref", metavar="MODEL[@REF]")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
def show(ref: str, as_json: bool) -> None:
    """Show a model version: aliases, run, metrics, latency, drift, signature, artifacts."""
    name, version_ref = _split(ref)
    version = open_client().model(name).version(version_ref)
    data = version_dict(version)
    if as_json:
        out.echo_json(data)
        return
    click.echo(out.bold(f"{version.model} v{version.version}") + f"  {', '.join(version.aliases)}")
    click.echo(f"  {'id':<10} {version.id}")
    click.echo(f"  {'run':<10} {version.run_id or '-'}")
    click.echo(f"  {'created':<10} {out.local_time(version.record.created_at)}")
    click.echo(f"  {'metrics':<10} {out.key_values(version.metrics)}")
    for batch, row in sorted(version.latency.items(), key=lambda kv: int(kv[0])):
        values = " ".join(f"{k}={row.get(k)}" for k in ("p50_ms", "p95_ms", "p99_ms"))
        click.echo(f"  {'latency':<10} batch {batch}: {values}")
    drift = version.metadata.get("drift")
    if isinstance(drift, dict):
        click.echo(f"  {'drift':<10} {drift.get('verdict')}")
    if version.signature:
        inputs = ", ".join(f"{i['name']}:{i['type']}" for i in version.signature.get("inputs", []))
        click.echo(f"  {'inputs':<10} {inputs}")
    for name, link in data["artifacts"].items():
        artifact = version.artifacts[name]
        click.echo(f"  {link['role']:<10} {name} v{artifact.version}  {out.size(artifact.size)}")


@models.command("promote")
@click.argument("ref", metavar="MODEL@REF")
@click.option(
    "--to",
    "alias",
    required=True,
    metavar="ALIAS",
    help="The alias to move (staging, production, archived, ...).",
)
@click.option(
    "--require",
    "gates",
    multiple=True,
    metavar="GATE",
    help="A gate the version must pass: 'accuracy >= 0.8', 'p99_ms <= 20', 'no drift'. Repeatable.",
)
@click.option("--reason", metavar="TEXT", help="Why: recorded with the promotion.")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded promotion as JSON.")
def promote(
    ref: str, alias: str, gates: tuple[str, ...], reason: str | None, as_json: bool
) -> None:
    """Point ALIAS at a version if every gate passes; a failed gate changes nothing."""
    from headrace.models import GateError

    name, version_ref = _split(ref)
    try:
        record = (
            open_client()
            .model(name)
            .promote(version_ref, to=alias, require=list(gates), reason=reason)
        )
    except GateError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        out.echo_json(promotion_dict(record))
        return
    was = f" (was v{record.previous_version})" if record.previous_version else ""
    click.echo(f"{record.model} v{record.version} is now {record.alias}{was}")
    for check in record.checks:
        click.echo(f"  passed  {check['reason']}")


@models.command("history")
@click.argument("model", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def history(model: str, as_json: bool) -> None:
    """Every promotion of MODEL, newest first: when, who, which alias, from and to which
    version, why."""
    records = open_client().model(model).history()
    if as_json:
        out.echo_json([promotion_dict(r) for r in records])
        return
    if not records:
        click.echo(f"model '{model}' was never promoted")
        return
    rows = [
        [
            out.local_time(r.created_at),
            r.alias,
            f"v{r.previous_version}" if r.previous_version else "-",
            f"v{r.version}",
            r.actor,
            r.reason or "",
        ]
        for r in records
    ]
    out.table(["WHEN", "ALIAS", "FROM", "TO", "BY", "REASON"], rows)


@models.command("export")
@click.argument("ref", metavar="MODEL@REF")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mlflow", "bentoml", "seldon"]),
    required=True,
    help="What to write: an MLflow pyfunc model folder, a BentoML service, a Seldon Core / KServe manifest.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The folder to write (default: ./MODEL-vN-FORMAT); it must not exist or be empty.",
)
def export(ref: str, fmt: str, output: Path | None) -> None:
    """Write a model version in a form another serving system loads."""
    from headrace.models.export import export_version

    name, version_ref = _split(ref)
    version = open_client().model(name).version(version_ref)
    target = output or Path(f"{version.model}-v{version.version}-{fmt}")
    written = export_version(version, fmt, target)
    click.echo(f"wrote {fmt} export of {version.model} v{version.version} to {written}")
