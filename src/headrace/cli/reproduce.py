"""``headrace reproduce RUN``: pin the environment, rerun, and compare outputs bit for bit."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client

if TYPE_CHECKING:
    from headrace.reproduce import Reproduction


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write requirements.txt, environment.json and the report "
    "(default: ./reproduce-<run id>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reproduce(run_ref: str, directory: Path | None, as_json: bool) -> None:
    """Write RUN's pinned requirements and environment into DIR, rerun its pipeline from
    the recorded source file with the same parameters and no cache, and report for each
    step whether its outputs came out bit-identical.

    Exits 0 when every step is identical and 1 otherwise, naming the steps that are not
    deterministic (same inputs and code, different bytes).

    \b
    Example:
      headrace reproduce latest --dir repro/
    """
    from headrace.reproduce import reproduce as rerun

    client = open_client()
    original = client.run(run_ref)
    folder = directory or Path(f"reproduce-{original.id[:12]}")
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        result = rerun(original, folder, client=client)
    if as_json:
        out.echo_json(result.to_dict())
    else:
        _print(result)
    if not result.identical:
        click.echo(f"Error: {_verdict(result)}", err=True)
        click.get_current_context().exit(1)


def _verdict(result: Reproduction) -> str:
    if result.error:
        return f"the rerun failed: {result.error}"
    nondeterministic = result.nondeterministic
    different = [s.name for s in result.steps if not s.identical]
    if nondeterministic:
        names = ", ".join(nondeterministic)
        return f"not reproduced: step{'s' if len(nondeterministic) > 1 else ''} {names} not deterministic"
    return f"not reproduced: {', '.join(different)} differ"


def _print(result: Reproduction) -> None:
    from headrace.cli.env import describe_diff

    original = result.original
    glyphs = out.Glyphs()
    click.echo(
        f"{out.bold('reproducing run ' + original.id[:12])}  {original.pipeline}  "
        f"{out.key_values(original.parameters)}"
    )
    for path in result.files:
        click.echo(f"  wrote {path}")
    source = result.source
    if source.status == "changed":
        click.echo(
            out.style(
                f"  source {source.file} changed since the run "
                f"(sha256 {str(source.recorded_sha256)[:12]} {glyphs.arrow} {str(source.current_sha256)[:12]})",
                fg="yellow",
            )
        )
    else:
        click.echo(f"  source {source.file} ({source.status})")
    if result.environment is not None:
        lines = describe_diff(result.environment)
        if result.environment.same:
            click.echo("  environment: same as the original run")
        else:
            click.echo("  environment differs from the original run:")
            for line in lines:
                click.echo(f"    {line}")
    if result.rerun is not None:
        click.echo(
            f"  rerun {result.rerun.id[:12]}  {out.status(result.rerun.status)}  "
            f"{out.duration(result.rerun.duration)}"
        )
    click.echo("")
    width = max([len(s.name) for s in result.steps] + [4])
    for step in result.steps:
        detail = ""
        if step.status == "different":
            changed = ", ".join(step.differing_outputs)
            if step.deterministic is False:
                detail = f"not deterministic: {changed} differ from the same inputs and code"
            elif step.code_changed:
                detail = f"code changed; {changed} differ"
            else:
                detail = f"{changed} differ; its inputs differ too"
        elif step.status == "identical":
            detail = ", ".join(step.outputs) or "no outputs"
        padding = " " * (14 - len(step.status))
        click.echo(f"  {step.name:<{width}}  {out.status(step.status)}{padding}  {detail}".rstrip())
    click.echo("")
    same = sum(1 for s in result.steps if s.identical)
    summary = f"{same} of {len(result.steps)} steps bit-identical"
    click.echo(out.style(summary, fg="green") if result.identical else summary)
