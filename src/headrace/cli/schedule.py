"""``headrace schedule add|list|remove`` and ``headrace scheduler``."""

from __future__ import annotations

from typing import Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client, parse_parameters


@click.group()
def schedule() -> None:
    """Add, list and remove cron schedules of pipelines; `headrace scheduler` runs them."""


@schedule.command("add")
@click.argument("target", metavar="FILE.py:PIPELINE")
@click.option(
    "--cron", metavar="EXPR", help="When to run: five cron fields, e.g. '*/5 * * * *' (UTC)."
)
@click.option(
    "--on-artifact",
    metavar="NAME",
    help="Instead of --cron: run whenever artifact NAME gets a new version.",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_parameters,
    help="A pipeline parameter for every run; VALUE is read as JSON, else as a string. Repeatable.",
)
@click.option("--name", metavar="NAME", help="The schedule's name (default: the pipeline's).")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
def add(
    target: str,
    cron: str | None,
    on_artifact: str | None,
    params: dict[str, Any],
    name: str | None,
    as_json: bool,
) -> None:
    """Run PIPELINE from FILE.py on a cron schedule, or whenever an artifact gets a new
    version (--on-artifact)."""
    from headrace.errors import ConfigError
    from headrace.schedules import add_schedule

    try:
        record = add_schedule(
            open_client().settings,
            target,
            cron=cron,
            on_artifact=on_artifact,
            parameters=params,
            name=name,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        out.echo_json(_schedule_dict(record))
        return
    if record.cron.startswith("@artifact "):
        click.echo(
            f"trigger '{record.name}': {record.target} on a new version of {record.cron[10:]}"
        )
    else:
        click.echo(
            f"schedule '{record.name}': {record.target} at '{record.cron}', next run "
            f"{out.local_time(record.next_run_at)}"
        )


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_(as_json: bool) -> None:
    """List schedules with their next and last runs."""
    from headrace.schedules import list_schedules

    records = list_schedules(open_client().settings)
    if as_json:
        out.echo_json([_schedule_dict(r) for r in records])
        return
    if not records:
        click.echo("no schedules")
        return
    out.table(
        ["NAME", "CRON", "NEXT", "LAST", "STATUS", "TARGET"],
        [
            [
                r.name,
                r.cron,
                "on new version"
                if r.cron.startswith("@artifact ")
                else out.local_time(r.next_run_at),
                out.local_time(r.last_run_at),
                "running" if r.running_since else (r.last_status or "-"),
                r.target,
            ]
            for r in records
        ],
    )


@schedule.command("remove")
@click.argument("name", metavar="NAME")
def remove(name: str) -> None:
    """Remove the schedule NAME (a run already started finishes)."""
    from headrace.schedules import remove_schedule

    remove_schedule(open_client().settings, name)
    click.echo(f"removed schedule '{name}'")


@click.command()
@click.option(
    "--tick",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often to look for due schedules.",
)
def scheduler(tick: float) -> None:
    """Run due schedules until interrupted. Each run is a child process; a failing run is
    recorded and the scheduler goes on. A schedule never runs twice at once."""
    import logging

    from headrace.schedules import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    runner = Scheduler(open_client().settings, tick=tick)
    click.echo(f"scheduler started (tick {tick}s); Ctrl-C to stop", err=True)
    try:
        runner.run()
    except KeyboardInterrupt:
        runner.stop()
        click.echo("stopping: waiting for the runs in progress", err=True)
        runner.wait()


def _schedule_dict(record: Any) -> dict[str, Any]:
    return {
        "name": record.name,
        "target": record.target,
        "cron": record.cron,
        "parameters": record.parameters,
        "next_run_at": out.iso_time(record.next_run_at),
        "last_run_at": out.iso_time(record.last_run_at),
        "last_status": record.last_status,
        "running": record.running_since is not None,
    }
