"""``headrace stack register|list|show|set|delete``: named sets of components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client
from headrace.cli.home import mask_password


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, Any]:
    """``key=value`` options; a value that reads as JSON (a number, true, a list) is that."""
    import json

    found: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{flag} takes key=value, got {item!r}")
        try:
            found[key] = json.loads(raw)
        except ValueError:
            found[key] = raw
    return found


@click.group()
def stack() -> None:
    """Register, list, show, choose and delete stacks.

    A stack names the orchestrator, artifact store, metadata store and tracker a run
    uses. `default` is the home's own configuration; HEADRACE_STACK=NAME picks a stack
    for one process, `headrace stack set NAME` for the home.
    """


@stack.command("register")
@click.argument("name")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the components from a YAML stack file.",
)
@click.option("--orchestrator", metavar="FLAVOR", help="Orchestrator flavor (local, ray, ...).")
@click.option(
    "-o",
    "--orchestrator-option",
    "orchestrator_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An orchestrator option (repeatable).",
)
@click.option("--artifacts", metavar="URL", help="Artifact store: a folder or an fsspec URL.")
@click.option(
    "--artifacts-option",
    "artifacts_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An artifact store option (repeatable), e.g. endpoint_url=...",
)
@click.option(
    "--metadata", metavar="URL", help="Metadata store URL (sqlite:///..., postgresql://...)."
)
@click.option("--tracker", metavar="FLAVOR", help="Experiment tracker flavor.")
@click.option(
    "--tracker-option",
    "tracker_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A tracker option (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the registered stack as JSON.")
def register(
    name: str,
    file: Path | None,
    orchestrator: str | None,
    orchestrator_options: tuple[str, ...],
    artifacts: str | None,
    artifacts_options: tuple[str, ...],
    metadata: str | None,
    tracker: str | None,
    tracker_options: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register (or replace) the stack NAME.

    Credentials are never stored: give them as ${ENV_VAR} (the stack keeps the variable's
    name and reads it when a run starts). Every flavor and option is checked now.
    """
    from headrace.errors import ConfigError
    from headrace.stack import validate_stack

    components: dict[str, Any] = {}
    if file is not None:
        components = _read_stack_file(file)
    if orchestrator or orchestrator_options:
        components["orchestrator"] = {
            "flavor": orchestrator or "local",
            "options": _pairs(orchestrator_options, "--orchestrator-option"),
        }
    if artifacts or artifacts_options:
        if not artifacts:
            raise click.UsageError("--artifacts-option needs --artifacts URL")
        components["artifacts"] = {
            "uri": artifacts,
            "options": _pairs(artifacts_options, "--artifacts-option"),
        }
    if metadata:
        components["metadata"] = {"url": metadata, "options": {}}
    if tracker or tracker_options:
        if not tracker:
            raise click.UsageError("--tracker-option needs --tracker FLAVOR")
        components["tracker"] = {
            "flavor": tracker,
            "options": _pairs(tracker_options, "--tracker-option"),
        }
    if not components:
        raise click.UsageError(
            "name at least one component (--orchestrator, --artifacts, "
            "--metadata, --tracker) or a stack file (-f)"
        )
    try:
        checked = validate_stack(name, components)
    except ConfigError as exc:  # a stack that cannot work is the caller's to fix
        raise click.UsageError(str(exc)) from exc
    record = open_client().stores.metadata.put_stack(name, checked)
    if as_json:
        out.echo_json(_stack_dict(record.name, record.components))
        return
    click.echo(f"registered stack '{name}'")


def _read_stack_file(file: Path) -> dict[str, Any]:
    from headrace.errors import ConfigError
    from headrace.home import load_yaml_mapping

    if not file.is_file():
        raise ConfigError(f"stack file {file} does not exist")
    data = load_yaml_mapping(file)
    components = data.get("components", data)
    if not isinstance(components, dict):
        raise ConfigError(f"{file}: 'components' must be a mapping")
    return dict(components)


@stack.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_stacks(as_json: bool) -> None:
    """List the stacks; the active one is marked with *."""
    from headrace.stack import DEFAULT, active_stack_name

    client = open_client()
    records = client.stores.metadata.list_stacks()
    active = active_stack_name(Path(client.settings.home or "."))
    rows = [(DEFAULT, _home_components(client))] + [(r.name, r.components) for r in records]
    if as_json:
        out.echo_json([{**_stack_dict(n, c), "active": n == active} for n, c in rows])
        return
    table = [
        [
            ("* " if n == active else "  ") + n,
            str(c.get("orchestrator", {}).get("flavor", "local")),
            str(c.get("artifacts", {}).get("uri", "")),
            mask_password(str(c.get("metadata", {}).get("url", ""))),
            str((c.get("tracker") or {}).get("flavor", "-")),
        ]
        for n, c in rows
    ]
    out.table(["NAME", "ORCHESTRATOR", "ARTIFACTS", "METADATA", "TRACKER"], table)


@stack.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the stack as JSON.")
def show(name: str | None, as_json: bool) -> None:
    """Show a stack's components (default: the active stack)."""
    from headrace.stack import DEFAULT, active_stack_name

    client = open_client()
    name = name or active_stack_name(Path(client.settings.home or "."))
    if name == DEFAULT:
        components = _home_components(client)
    else:
        components = client.stores.metadata.get_stack(name).components
    data = _stack_dict(name, components)
    if as_json:
        out.echo_json(data)
        return
    click.echo(out.bold(f"stack {name}"))
    for kind, value in data["components"].items():
        where = value.get("flavor") or value.get("uri") or value.get("url")
        options = out.key_values(value.get("options") or {}, limit=80)
        click.echo(f"  {kind:<13} {mask_password(str(where))}  {options}".rstrip())


@stack.command("set")
@click.argument("name")
def set_stack(name: str) -> None:
    """Make NAME the home's active stack (`default`: the home's own configuration)."""
    from headrace.stack import ACTIVE_FILE, DEFAULT

    client = open_client()
    if name != DEFAULT:
        client.stores.metadata.get_stack(name)  # it must exist
    home = Path(client.settings.home or ".")
    target = home / ACTIVE_FILE
    if name == DEFAULT:
        target.unlink(missing_ok=True)
    else:
        partial = target.with_suffix(".part")
        partial.write_text(name + "\n", encoding="utf-8")
        partial.replace(target)
    click.echo(f"active stack: {name}")


@stack.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete the stack NAME (not the active one, and not `default`)."""
    from headrace.stack import DEFAULT, active_stack_name

    client = open_client()
    if name == DEFAULT:
        raise click.UsageError(
            "the stack 'default' is the home's configuration and cannot be deleted"
        )
    if name == active_stack_name(Path(client.settings.home or ".")):
        raise click.UsageError(
            f"stack '{name}' is the active stack: `headrace stack set default` (or unset "
            "HEADRACE_STACK) first"
        )
    client.stores.metadata.delete_stack(name)
    click.echo(f"deleted stack '{name}'")


def _home_components(client: Any) -> dict[str, Any]:
    settings = client.settings
    orchestrator = dict(settings.orchestrator)
    return {
        "orchestrator": {"flavor": orchestrator.pop("flavor", "local"), "options": orchestrator},
        "artifacts": {"uri": settings.artifact_uri, "options": dict(settings.artifact_options)},
        "metadata": {"url": settings.metadata_url, "options": dict(settings.metadata_options)},
    }


def _stack_dict(name: str, components: dict[str, Any]) -> dict[str, Any]:
    shown = {k: dict(v) for k, v in components.items()}
    if "metadata" in shown:
        shown["metadata"]["url"] = mask_password(str(shown["metadata"].get("url", "")))
    return {"name": name, "components": shown}
