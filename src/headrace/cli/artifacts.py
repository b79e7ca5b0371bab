"""``headrace artifacts list|show|load|diff``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import ARTIFACT_REF, ArtifactRef, open_client
from headrace.cli._views import artifact_dict

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion, Client


@click.group()
def artifacts() -> None:
    """List, show and export artifact versions.

    An artifact is named NAME (its latest version), NAME:VERSION or NAME:latest.
    """


@artifacts.command("list", short_help="List artifacts, or the versions of one.")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_artifacts(name: str | None, as_json: bool) -> None:
    """List artifacts (one row per name, with its latest version), or every version of NAME."""
    client = open_client()
    if name is not None:
        _list_versions(client, name, as_json)
        return
    latest: dict[str, ArtifactVersion] = {}
    counts: dict[str, int] = {}
    for artifact in client.artifacts():
        counts[artifact.name] = counts.get(artifact.name, 0) + 1
        if artifact.name not in latest or artifact.version > latest[artifact.name].version:
            latest[artifact.name] = artifact
    names = sorted(latest)
    if as_json:
        out.echo_json([{**artifact_dict(latest[n]), "versions": counts[n]} for n in names])
        return
    if not names:
        click.echo("no artifacts yet")
        return
    rows = [
        [
            n,
            str(latest[n].version),
            str(counts[n]),
            _short_type(latest[n].type),
            out.size(latest[n].size),
            out.local_time(latest[n].record.created_at),
        ]
        for n in names
    ]
    out.table(["NAME", "LATEST", "VERSIONS", "TYPE", "SIZE", "CREATED"], rows)


def _list_versions(client: Client, name: str, as_json: bool) -> None:
    from headrace.errors import ArtifactNotFoundError

    versions = client.artifacts(name=name)
    if not versions:
        raise ArtifactNotFoundError(f"no artifact named '{name}'")
    if as_json:
        out.echo_json([artifact_dict(a) for a in versions])
        return
    rows = [
        [
            f"{a.name}:{a.version}",
            a.hash[:12],
            _short_type(a.type),
            out.size(a.size),
            out.local_time(a.record.created_at),
            (a.producer_run_id or "-")[:12],
        ]
        for a in versions
    ]
    out.table(["VERSION", "HASH", "TYPE", "SIZE", "CREATED", "RUN"], rows)


def _short_type(type_name: str) -> str:
    # pandas.core.frame.DataFrame -> pandas.DataFrame: the package and the class say enough.
    parts = type_name.split(".")
    return type_name if len(parts) <= 2 else f"{parts[0]}.{parts[-1]}"


@artifacts.command("show", short_help="Show a version, its producer and consumers.")
@click.argument("ref", metavar="NAME[:VERSION]", type=ARTIFACT_REF)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the version, its producer and consumers as JSON."
)
def show_artifact(ref: ArtifactRef, as_json: bool) -> None:
    """Show an artifact version: hash, type, size, metadata, the step run that produced
    it and the step runs that used it."""
    client = open_client()
    artifact = ref.resolve(client)
    producer = _producer(client, artifact)
    consumers = _consumers(client, artifact)
    if as_json:
        out.echo_json({**artifact_dict(artifact), "producer": producer, "consumers": consumers})
        return
    record = artifact.record
    click.echo(out.bold(f"{artifact.name}:{artifact.version}"))
    rows = [
        ("id", record.id),
        ("hash", record.hash),
        ("type", record.type),
        ("materializer", record.materializer),
        ("size", f"{out.size(record.size)} ({record.size} bytes)"),
        ("uri", record.uri),
        ("created", out.local_time(record.created_at)),
        ("produced by", _describe(producer) if producer else "-"),
    ]
    for label, value in rows:
        click.echo(f"  {label:<13} {value}")
    if consumers:
        click.echo(f"  {'used by':<13} {_describe(consumers[0])}")
        for consumer in consumers[1:]:
            click.echo(f"  {'':<13} {_describe(consumer)}")
    else:
        click.echo(f"  {'used by':<13} -")
    if record.metadata:
        click.echo("  metadata")
        for key, value in record.metadata.items():
            click.echo(f"    {key}: {out.brief(value, 100)}")


def _describe(step: dict[str, Any]) -> str:
    text = f"step {step['step']} of run {step['run_id'][:12]}"
    if step.get("pipeline"):
        text += f" ({step['pipeline']})"
    if step.get("input"):
        text += f" as input {step['input']}"
    if step.get("cache_hit"):
        text += ", cache hit"
    return text


def _producer(client: Client, artifact: ArtifactVersion) -> dict[str, Any] | None:
    from headrace.errors import RunNotFoundError

    record = artifact.record
    if record.producer_run_id is None or record.producer_step_run_id is None:
        return None
    try:
        run = client.run(record.producer_run_id)
    except RunNotFoundError:
        return None
    step = next((s for s in run.steps.values() if s.id == record.producer_step_run_id), None)
    return {
        "run_id": run.id,
        "pipeline": run.pipeline,
        "step": step.name if step else None,
        "step_run_id": record.producer_step_run_id,
    }


def _consumers(client: Client, artifact: ArtifactVersion) -> list[dict[str, Any]]:
    view = client.lineage(artifact).downstream()
    direct = {target: name for source, target, name in view.edges if source == artifact.id}
    pipelines: dict[str, str] = {}
    found = []
    for step in view.step_runs:
        if step.id not in direct:
            continue
        run_id = step.record.run_id
        if run_id not in pipelines:
            pipelines[run_id] = client.run(run_id).pipeline
        found.append(
            {
                "run_id": run_id,
                "pipeline": pipelines[run_id],
                "step": step.name,
                "step_run_id": step.id,
                "input": direct[step.id],
                "cache_hit": step.cache_hit,
            }
        )
    found.sort(key=lambda c: (c["run_id"], c["step"]))
    return found


@artifacts.command("load", short_help="Write a version to a file or folder.")
@click.argument("ref", metavar="NAME[:VERSION]", type=ARTIFACT_REF)
@click.option(
    "--out",
    "target",
    required=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Where to write it (a file, or a folder for stored files).",
)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def load_artifact(ref: ArtifactRef, target: Path, force: bool) -> None:
    """Write an artifact version to a file: bytes as they are, text as text, a DataFrame
    as .csv or .parquet (by the suffix of PATH), a numpy array as .npy, anything JSON-able
    as JSON. Other values (models, pickles, ...) are copied as the stored files into the
    folder PATH."""
    from headrace.cli._export import export

    artifact = ref.resolve(open_client())
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; pass --force to overwrite it")
    kind = export(artifact, target)
    click.echo(f"wrote {artifact.name}:{artifact.version} to {target} ({kind})")


@artifacts.command("diff", short_help="Compare two versions of a dataset.")
@click.argument("first", metavar="NAME:A", type=ARTIFACT_REF)
@click.argument("second", metavar="NAME:B", type=ARTIFACT_REF)
@click.option(
    "--method",
    type=click.Choice(["auto", "test", "psi"]),
    default="auto",
    show_default=True,
    help="How a column is judged drifted: auto (tests up to 1,000 rows, distances above), "
    "test (KS / chi-squared p-values) or psi.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    metavar="P",
    help="p-value below which a column counts as drifted, where a test decides.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diff report as JSON.")
def diff_artifacts(
    first: ArtifactRef, second: ArtifactRef, method: str, threshold: float, as_json: bool
) -> None:
    """Compare two versions of a dataset artifact (DataFrames): schema changes, row
    counts, per-column statistics and drift. Exits 1 when a column was removed or changed
    type, or the data drifted."""
    from headrace.errors import ConfigError

    client = open_client()
    a, b = first.resolve(client), second.resolve(client)
    for artifact in (a, b):
        # Check the recorded type before loading anything.
        if artifact.materializer != "pandas" or not artifact.type.endswith("DataFrame"):
            raise ConfigError(
                f"{artifact.name}:{artifact.version} is a {artifact.type}, not a DataFrame: "
                "diff compares dataset versions"
            )
    from headrace.data import diff

    report = diff(
        a.load(),
        b.load(),
        names=(f"{a.name}:{a.version}", f"{b.name}:{b.version}"),
        threshold=threshold,
        method=method,
    )
    if as_json:
        out.echo_json(report.to_dict())
    else:
        _render_diff(report)
    if not report.passed:
        click.echo(f"Error: {report.names[0]} -> {report.names[1]}: {report.verdict}", err=True)
        click.get_current_context().exit(1)


def _render_diff(report: Any) -> None:
    name_a, name_b = report.names
    click.echo(out.bold(f"{name_a} -> {name_b}: {report.verdict}"))
    click.echo(
        f"  rows          {report.rows_a} -> {report.rows_b} ({report.rows_b - report.rows_a:+d})"
    )
    click.echo(f"  added         {', '.join(report.added) or '-'}")
    click.echo(f"  removed       {', '.join(report.removed) or '-'}")
    changes = [f"{c} {x} -> {y}" for c, x, y in report.dtype_changes]
    click.echo(f"  type changes  {', '.join(changes) or '-'}")
    if report.drift is not None:
        click.echo(f"  drifted       {', '.join(report.drifted_columns) or '-'}")
    rows = []
    for column in report.columns:
        stats_a, stats_b = column.stats_a or {}, column.stats_b or {}
        rows.append(
            [
                column.column,
                str(column.dtype_a or "-"),
                str(column.dtype_b or "-"),
                _stat(stats_a.get("mean", stats_a.get("top"))),
                _stat(stats_b.get("mean", stats_b.get("top"))),
                _stat(stats_a.get("nulls")),
                _stat(stats_b.get("nulls")),
            ]
        )
    click.echo()
    out.table(
        ["COLUMN", "TYPE A", "TYPE B", "MEAN/TOP A", "MEAN/TOP B", "NULLS A", "NULLS B"], rows
    )


def _stat(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return out.brief(value, 14)
