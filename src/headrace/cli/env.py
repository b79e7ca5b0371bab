"""``headrace env [show] RUN`` and ``headrace env diff RUN_A RUN_B``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._groups import DefaultCommandGroup
from headrace.cli._refs import open_client

if TYPE_CHECKING:
    from headrace.client import Run
    from headrace.reproduce import EnvironmentDiff


@click.group(cls=DefaultCommandGroup, default_command="show")
def env() -> None:
    """Show the pinned environment of a run, or compare the environments of two runs.

    `headrace env RUN` is short for `headrace env show RUN`.
    """


@env.command("show", short_help="Print the pinned requirements of a run.")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the whole environment snapshot as JSON."
)
def show_env(run_ref: str, as_json: bool) -> None:
    """Print the pinned requirements.txt of the environment RUN ran in.

    \b
    Example:
      headrace env latest > requirements.txt
    """
    from headrace.environment import requirements

    run = open_client().run(run_ref)
    snapshot = _snapshot(run)
    if as_json:
        out.echo_json({"run_id": run.id, **snapshot})
        return
    python = snapshot.get("python", {})
    system = snapshot.get("os", {})
    click.echo(f"# environment of headrace run {run.id} (pipeline {run.pipeline})")
    click.echo(
        f"# Python {python.get('version', '?')} ({python.get('implementation', '?')}) "
        f"on {system.get('platform', '?')}"
    )
    for line in installation_notes(snapshot):
        click.echo(f"# {line}")
    click.echo(requirements(snapshot), nl=False)


def installation_notes(snapshot: dict[str, Any]) -> list[str]:
    """Lines on distributions installed twice (which copy import used) and on editable
    installs (their source folder, commit and uncommitted changes)."""
    lines: list[str] = []
    for name, entry in (snapshot.get("shadowed") or {}).items():
        used = entry.get("used", {})
        for hidden in entry.get("hidden", []):
            lines.append(
                f"shadowed: {name} {hidden.get('version')} in {hidden.get('path')} is hidden by "
                f"{used.get('version')} in {used.get('path')} (first on sys.path, the one imported)"
            )
    for name, entry in (snapshot.get("editable") or {}).items():
        git = entry.get("git")
        if git:
            state = "with uncommitted changes" if git.get("dirty") else "clean"
            where = f"at commit {str(git.get('commit'))[:12]}, {state}"
        else:
            where = "not in a git repository"
        lines.append(f"editable: {name} {entry.get('version')} from {entry.get('path')} ({where})")
    return lines


def _snapshot(run: Run) -> dict[str, Any]:
    from headrace.errors import StoreError

    snapshot = run.environment
    if not snapshot:
        raise StoreError(f"run {run.id[:12]} recorded no environment")
    return snapshot


@env.command("diff", short_help="Compare the environments of two runs.")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff_env(run_a: str, run_b: str, as_json: bool) -> None:
    """Compare the environments of two runs: packages added, removed and changed;
    Python and OS; git commit and uncommitted changes; the pipeline source."""
    from headrace.reproduce import diff_environments

    client = open_client()
    first, second = client.run(run_a), client.run(run_b)
    diff = diff_environments(_snapshot(first), _snapshot(second))
    if as_json:
        out.echo_json({"run_a": first.id, "run_b": second.id, **diff.to_dict()})
        return
    click.echo(f"a: run {first.id[:12]} ({first.pipeline})")
    click.echo(f"b: run {second.id[:12]} ({second.pipeline})")
    for line in describe_diff(diff):
        click.echo(line)


def describe_diff(diff: EnvironmentDiff) -> list[str]:
    """The differences as text lines (also used by ``headrace reproduce``)."""
    glyphs = out.Glyphs()
    if diff.same:
        return ["no differences"]
    lines: list[str] = []
    for title, values in (
        ("python", diff.python),
        ("os", diff.os),
        ("git", diff.git),
        ("source", diff.source),
        ("editable", diff.editable),
    ):
        for key, (a, b) in values.items():
            lines.append(f"{title}.{key}: {_value(a)} {glyphs.arrow} {_value(b)}")
    if diff.same_packages:
        lines.append("packages: same")
        return lines
    lines.append(
        f"packages: {len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    )
    for name, version in diff.added.items():
        lines.append(out.style(f"  + {name} {version}", fg="green"))
    for name, version in diff.removed.items():
        lines.append(out.style(f"  - {name} {version}", fg="red"))
    for name, (a, b) in diff.changed.items():
        lines.append(out.style(f"  ~ {name} {a} {glyphs.arrow} {b}", fg="yellow"))
    return lines


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return out.brief(value, 48)
