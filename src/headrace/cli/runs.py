"""``headrace runs list|show``, and the run summary ``headrace run`` prints too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client
from headrace.cli._views import run_detail_dict, run_dict, spec_upstream

if TYPE_CHECKING:
    from headrace.client import Run, StepRun

RUN_STATUSES = ("running", "completed", "failed", "crashed", "cancelled")
DEFAULT_LIMIT = 50


@click.group()
def runs() -> None:
    """List runs and show one as a tree of steps.

    RUN is a run id, a unique prefix of one, or `latest`.
    """


@runs.command("list")
@click.option("--pipeline", metavar="NAME", help="Only runs of this pipeline.")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs with this status.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    show_default=True,
    metavar="N",
    help="Show at most N runs, newest first (0: all).",
)
@click.option(
    "--where",
    "where",
    metavar="EXPR",
    help="Only runs whose last logged value of a metric meets a condition: "
    "'accuracy > 0.9', 'loss <= 0.2 and accuracy >= 0.8' (operators > >= < <= == !=).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_runs(
    pipeline: str | None, status: str | None, limit: int, where: str | None, as_json: bool
) -> None:
    """List runs, newest first.

    \b
    Example:
      headrace runs list --where "accuracy > 0.9" --limit 5
    """
    found = open_client().runs(pipeline=pipeline, status=status, limit=limit or None, where=where)
    if as_json:
        out.echo_json([run_dict(r) for r in found])
        return
    if not found:
        click.echo("no runs" + (" match" if pipeline or status or where else " yet"))
        return
    rows = [
        [
            r.id[:12],
            r.pipeline,
            r.status,
            out.local_time(r.record.started_at or r.record.created_at),
            out.duration(r.duration),
            out.key_values(r.parameters, limit=20),
        ]
        for r in found
    ]
    out.table(["ID", "PIPELINE", "STATUS", "STARTED", "DURATION", "PARAMETERS"], rows)


@runs.command("show", short_help="Show a run as a tree of steps.")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its steps as JSON.")
def show_run(run_ref: str, as_json: bool) -> None:
    """Show a run: its parameters and environment, and its steps as a tree with status,
    duration, cache hit or the reason for a miss, and outputs with versions and sizes."""
    run = open_client().run(run_ref)
    if as_json:
        out.echo_json(run_detail_dict(run))
    else:
        render_run(run)


# -- the run summary ------------------------------------------------------------------------


def render_run(run: Run) -> None:
    """Print a run as a header and a tree of its steps."""
    record = run.record
    click.echo(
        f"{out.bold('run ' + run.id[:12])}  {run.pipeline}  {out.status(run.status)}  "
        f"{out.duration(run.duration)}"
    )
    details = [
        ("id", run.id),
        ("started", out.local_time(record.started_at or record.created_at)),
        ("parameters", out.key_values(run.parameters)),
        ("environment", _environment_line(run)),
    ]
    if record.stack:
        details.append(("stack", _stack_line(record.stack)))
    if record.origin_run_id:
        details.append(("reproduces", f"run {record.origin_run_id[:12]}"))
    if record.error:
        details.append(("error", out.one_line_error(record.error)))
    for label, value in details:
        click.echo(f"  {label:<12} {value}")
    click.echo("")
    for line in step_tree(run):
        click.echo(line)


def _stack_line(stack: dict[str, Any]) -> str:
    from headrace.cli.home import mask_password

    orchestrator = stack.get("orchestrator") or {}
    parts = [
        str(stack.get("name", "default")),
        f"orchestrator {orchestrator.get('flavor', 'local')}",
        f"artifacts {(stack.get('artifacts') or {}).get('uri', '?')}",
        f"metadata {mask_password(str((stack.get('metadata') or {}).get('url', '?')))}",
    ]
    tracker = stack.get("tracker")
    if tracker:
        parts.append(f"tracker {tracker.get('flavor')}")
    return ", ".join(parts)


def _environment_line(run: Run) -> str:
    env = run.environment
    if not env:
        return "-"
    python = env.get("python", {})
    system = env.get("os", {})
    text = f"Python {python.get('version', '?')}, {system.get('system', '?')} {system.get('machine', '')}".rstrip()
    git = env.get("git")
    if git:
        text += (
            f", git {str(git.get('commit', ''))[:8]} ({'dirty' if git.get('dirty') else 'clean'})"
        )
    return text


def step_tree(run: Run) -> list[str]:
    """The steps as a tree: each step under the last step it waits for, in pipeline order."""
    glyphs = out.Glyphs()
    upstream = spec_upstream(run)
    steps = dict(run.steps)
    mapped = {s["name"] for s in run.record.spec.get("steps", []) if s.get("map_over")}
    elements: dict[str, list[StepRun]] = {}
    for name in list(steps):
        base, bracket, _ = name.partition("[")
        if bracket and base in mapped:
            elements.setdefault(base, []).append(steps.pop(name))
    order = [*upstream, *(n for n in steps if n not in upstream)]
    position = {name: i for i, name in enumerate(order)}
    children: dict[str | None, list[str]] = {}
    for name in order:
        parents = [p for p in upstream.get(name, []) if p in position]
        parent = max(parents, key=position.__getitem__) if parents else None
        children.setdefault(parent, []).append(name)

    outputs = {
        s["name"]: [o["name"] for o in s.get("outputs", [])]
        for s in run.record.spec.get("steps", [])
    }
    lines: list[str] = []

    def walk(name: str, prefix: str, last: bool, top: bool) -> None:
        kids = children.get(name, [])
        connector = "" if top else (glyphs.last if last else glyphs.tee)
        below = prefix if top else prefix + (glyphs.blank if last else glyphs.pipe)
        parents = [p for p in upstream.get(name, []) if p in position]
        others = [p for p in parents if parents and p != max(parents, key=position.__getitem__)]
        detail_prefix = below + (glyphs.pipe if kids else glyphs.blank)
        if name in mapped:
            lines.append(prefix + connector + _map_heading(name, elements.get(name, []), others))
            for element in elements.get(name, []):
                if element.status in ("failed", "cancelled", "crashed"):
                    lines.append(detail_prefix + _step_heading(element.name, element, []))
        else:
            lines.append(prefix + connector + _step_heading(name, steps.get(name), others))
        for detail in _step_details(steps.get(name), outputs.get(name, []), glyphs.arrow):
            lines.append(detail_prefix + detail)
        for i, kid in enumerate(kids):
            walk(kid, below, i == len(kids) - 1, False)

    for root in children.get(None, []):
        walk(root, "", True, True)
    return lines


def _map_heading(name: str, elements: list[StepRun], also_after: list[str]) -> str:
    """One line for a mapped step: how many elements, how they ended, how many hit."""
    if not elements:
        return "  ".join([out.bold(name), out.status("not run"), "map"])
    counts: dict[str, int] = {}
    for element in elements:
        counts[element.status] = counts.get(element.status, 0) + 1
    hits = sum(1 for e in elements if e.cache_hit)
    ended = ", ".join(f"{n} {out.status(status)}" for status, n in sorted(counts.items()))
    parts = [out.bold(name), f"map of {len(elements)}: {ended}", f"{hits} cache hits"]
    if also_after:
        parts.append(out.dim(f"(also after {', '.join(also_after)})"))
    return "  ".join(parts)


def _step_heading(name: str, step: StepRun | None, also_after: list[str]) -> str:
    parts = [out.bold(name)]
    if step is None:
        parts.append(out.status("not run"))
    else:
        parts += [out.status(step.status), out.duration(step.duration)]
        if step.status == "completed":
            if step.cache_hit:
                parts.append(out.style("cache hit", fg="cyan"))
            else:
                parts.append(f"cache miss: {step.cache_reason or 'no reason recorded'}")
        elif step.status == "skipped" and step.error:
            parts[-1] = out.one_line_error(step.error)
    if also_after:
        parts.append(out.dim(f"(also after {', '.join(also_after)})"))
    return "  ".join(parts)


def _step_details(step: StepRun | None, order: list[str], arrow: str) -> list[str]:
    if step is None:
        return []
    produced = step.outputs
    names = [n for n in order if n in produced] + [n for n in produced if n not in order]
    lines = [
        f"{arrow} {produced[n].name} v{produced[n].version}  {out.size(produced[n].size)}"
        + _verdict(produced[n].metadata)
        for n in names
    ]
    for name, points in step.metrics().items():
        last = points[-1]
        span = (
            f"step {points[0].step}" if len(points) == 1 else f"steps {points[0].step}-{last.step}"
        )
        lines.append(
            f"metric {name} = {last.value:.6g}  ({len(points)} point{'s' if len(points) != 1 else ''}, "
            f"{span}, min {min(p.value for p in points):.6g}, max {max(p.value for p in points):.6g})"
        )
    warnings = step.metadata.get("warnings")
    if isinstance(warnings, list):
        lines += [out.style(f"warning: {w}", fg="yellow") for w in warnings]
    if step.status in ("failed", "cancelled") and step.error:
        lines.append(out.style(f"error: {out.one_line_error(step.error)}", fg="red"))
    return lines


def _verdict(metadata: dict[str, Any]) -> str:
    """A report artifact's verdict (validation, drift, slices...), recorded as metadata."""
    verdict = metadata.get("verdict")
    return f"  {verdict}" if isinstance(verdict, str) else ""


@runs.command("logs", short_help="Print what a run's steps printed and logged.")
@click.argument("run_ref", metavar="RUN")
@click.argument("step", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the run is running.")
def logs(run_ref: str, step: str | None, follow: bool) -> None:
    """Print the captured stdout, stderr and log records of every step of RUN (or of
    STEP: a step name, or `name[i]` for one element of a map), in pipeline order.
    With --follow, new output is printed as it is stored until the run ends."""
    import time

    from headrace.runner.logs import FLUSH_SECONDS

    client = open_client()
    run = client.run(run_ref)
    artifacts = client.stores.artifacts
    seen: dict[str, int] = {}

    def selected() -> list[StepRun]:
        current = run.refresh()
        found = list(current.steps.values())
        if step is not None:
            found = [s for s in found if s.name == step or s.name.startswith(step + "[")]
        return found

    def emit(steps: list[StepRun]) -> None:
        for step_run in steps:
            for seq, data in artifacts.read_log(
                run.id, step_run.id, after=seen.get(step_run.id, -1)
            ):
                if step is None or len(steps) > 1:
                    prefix = out.dim(f"[{step_run.name}] ")
                    text = data.decode("utf-8", "replace")
                    click.echo(
                        "".join(prefix + line for line in text.splitlines(keepends=True)), nl=False
                    )
                else:
                    click.echo(data.decode("utf-8", "replace"), nl=False)
                seen[step_run.id] = seq

    steps = selected()
    if step is not None and not steps and not follow:
        raise click.UsageError(
            f"run {run.id[:12]} has no step '{step}' (steps: {', '.join(run.steps)})"
        )
    emit(steps)
    while follow:
        current = run.refresh()
        if current.status != "running":
            emit(selected())
            break
        time.sleep(FLUSH_SECONDS)
        emit(selected())
