"""``headrace resume RUN``: rerun what a failed, crashed or cancelled run did not finish."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client
from headrace.cli._views import run_detail_dict, spec_upstream
from headrace.errors import StepError

if TYPE_CHECKING:
    from headrace.client import Run, StepRun


@dataclass(frozen=True)
class StepOutcome:
    """How one step of the resumed run came about."""

    name: str
    how: str  # reused | cache hit | reran | skipped | not run
    status: str
    step: StepRun | None


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the new run as JSON (like `runs show --json`) with the steps it reused and reran.",
)
def resume(run_ref: str, as_json: bool) -> None:
    """Start a new run of RUN's pipeline that reuses the outputs of every step RUN
    completed and reruns the others (and everything downstream of them).

    RUN must be failed, crashed or cancelled. Its steps must still be importable, as
    they were when it ran (steps defined in a notebook are rebuilt from the cell source
    the run captured); a step whose code changed since runs the current code.
    Prints the new run, which steps were reused and which reran; exits 1 if the new
    run fails too.

    \b
    Example:
      headrace resume latest
    """
    client = open_client()
    original = client.run(run_ref)
    failure: StepError | None = None
    # Step code may print; with --json, stdout carries only the JSON.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        try:
            new_id = client.resume(original).id
        except StepError as exc:
            if exc.run_id is None or exc.run_id == original.id:
                raise
            failure, new_id = exc, exc.run_id
    resumed = client.run(new_id)
    outcomes = classify(original, resumed)
    if as_json:
        out.echo_json(_json(original, resumed, outcomes))
    else:
        _print(original, resumed, outcomes)
    if failure is not None:
        raise failure


def classify(original: Run, resumed: Run) -> list[StepOutcome]:
    """Each step of the resumed run's pipeline, in pipeline order: ``reused`` (took the
    outputs ``original`` completed), ``cache hit`` (an equal earlier step run elsewhere),
    ``reran``, ``skipped`` or ``not run``."""
    before = original.steps
    after = resumed.steps
    names = list(spec_upstream(resumed))
    names += [n for n in after if n not in names]
    outcomes: list[StepOutcome] = []
    for name in names:
        step = after.get(name)
        if step is None:
            outcomes.append(StepOutcome(name, "not run", "not run", None))
            continue
        earlier = before.get(name)
        if step.status == "skipped":
            how = "skipped"
        elif (
            step.cache_hit
            and earlier is not None
            and earlier.status == "completed"
            and step.record.outputs == earlier.record.outputs
        ):
            how = "reused"
        elif step.cache_hit:
            how = "cache hit"
        else:
            how = "reran"
        outcomes.append(StepOutcome(name, how, step.status, step))
    return outcomes


def _json(original: Run, resumed: Run, outcomes: list[StepOutcome]) -> dict[str, Any]:
    def named(*hows: str) -> list[str]:
        return [o.name for o in outcomes if o.how in hows]

    return {
        **run_detail_dict(resumed),
        "resumed_from": {"id": original.id, "status": original.status},
        "reused": named("reused"),
        "cache_hits": named("cache hit"),
        "reran": named("reran"),
        "not_run": named("skipped", "not run"),
    }


def _print(original: Run, resumed: Run, outcomes: list[StepOutcome]) -> None:
    glyphs = out.Glyphs()
    click.echo(
        f"{out.bold('run ' + resumed.id[:12])}  {resumed.pipeline}  {out.status(resumed.status)}  "
        f"{out.duration(resumed.duration)}"
    )
    click.echo(f"  {'id':<12} {resumed.id}")
    click.echo(
        f"  {'resumes':<12} run {original.id[:12]} ({original.status}"
        f"{', ' + out.local_time(original.record.started_at) if original.record.started_at else ''})"
    )
    click.echo(f"  {'parameters':<12} {out.key_values(resumed.parameters)}")
    if resumed.record.error:
        click.echo(f"  {'error':<12} {out.one_line_error(resumed.record.error)}")
    click.echo("")
    rows = []
    for o in outcomes:
        step = o.step
        produced = step.outputs if step is not None else {}
        detail = ", ".join(f"{a.name} v{a.version}" for a in produced.values())
        if step is not None and step.status in ("failed", "cancelled", "skipped") and step.error:
            detail = out.one_line_error(step.error, limit=120)
        rows.append(
            [
                o.name,
                o.how,
                o.status,
                out.duration(step.duration) if step is not None else "-",
                detail.replace("\n", " ") or "-",
            ]
        )
    out.table(["STEP", "RESUME", "STATUS", "DURATION", "OUTPUTS"], rows)
    click.echo("")
    counts = {how: sum(1 for o in outcomes if o.how == how) for how in ("reused", "reran")}
    parts = [
        f"{counts['reused']} step{'s' if counts['reused'] != 1 else ''} reused from run "
        f"{original.id[:12]}",
        f"{counts['reran']} reran",
    ]
    hits = sum(1 for o in outcomes if o.how == "cache hit")
    if hits:
        parts.append(f"{hits} cache hit{'s' if hits != 1 else ''}")
    missing = sum(1 for o in outcomes if o.how in ("skipped", "not run"))
    if missing:
        parts.append(f"{missing} not run")
    click.echo(f"{glyphs.arrow} " + ", ".join(parts))
