"""``headrace run FILE.py:PIPELINE``: import a pipeline from a file and run it."""

from __future__ import annotations

import contextlib
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client, parse_parameters
from headrace.cli._views import run_detail_dict
from headrace.cli.runs import render_run
from headrace.errors import ConfigError, DefinitionError, StepError
from headrace.pipelines import load_run_config

if TYPE_CHECKING:
    from headrace.client import Client
    from headrace.pipelines import Pipeline


@click.command()
@click.argument("target", metavar="FILE.py[:PIPELINE]")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_parameters,
    help="Set a pipeline parameter; VALUE is read as JSON, else as a string. Repeatable.",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="RUN.yaml",
    help="A YAML run config: parameters, cache, per-step parameters and options.",
)
@click.option("--no-cache", is_flag=True, help="Run every step, reusing no earlier outputs.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the finished run as JSON (like `runs show --json`).",
)
def run(
    target: str, params: dict[str, Any], config: Path | None, no_cache: bool, as_json: bool
) -> None:
    """Run the pipeline PIPELINE defined in FILE.py, then print the run like `runs show`.

    Without :PIPELINE the file must define exactly one pipeline. Parameters come from
    the function's defaults, then --config, then -p.

    \b
    Examples:
      headrace run examples/quarterly.py:quarterly -p C=0.5 -p n=2000
      headrace run pipeline.py --config run.yaml --no-cache
    """
    file, name = _split_target(target)
    failure: StepError | None = None
    # Step code may print; with --json, stdout carries only the JSON.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        pipeline = _load(file, name)
        try:
            _check_parameters(pipeline, params, config)
            configured = pipeline.with_options(
                config=config, parameters=params, cache=False if no_cache else None
            )
            configured.compile()
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        client = _client_with_open_stores()
        try:
            run_id = configured().id
        except StepError as exc:
            if exc.run_id is None:
                raise
            failure, run_id = exc, exc.run_id
    finished = client.run(run_id)
    if as_json:
        out.echo_json(run_detail_dict(finished))
    else:
        render_run(finished)
    if failure is not None:
        raise failure


def _client_with_open_stores() -> Client:
    """The client of the chosen home, its stores opened: an unusable store (say, a home
    that cannot be created) fails here, before any step runs or any record is written."""
    from headrace.store.stores import open_stores

    client = open_client()
    open_stores(client.settings)
    return client


def _split_target(target: str) -> tuple[Path, str | None]:
    file, name = target, None
    if not Path(target).is_file():
        head, sep, tail = target.rpartition(":")
        if sep and head and "/" not in tail and "\\" not in tail:
            file, name = head, tail
    path = Path(file)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise click.UsageError(f"{file} {what}")
    if name is not None and not all(part.isidentifier() for part in name.split(".")):
        raise click.UsageError(f"{name!r} is not a pipeline name (FILE.py:PIPELINE)")
    return path, name


def _load(file: Path, name: str | None) -> Pipeline[Any]:
    from headrace.reproduce import find_pipeline, load_script

    module = load_script(file)  # an error in the file itself is a failure (exit 1)
    try:
        return find_pipeline(module, name)
    except DefinitionError as exc:
        raise click.UsageError(str(exc)) from exc


def _check_parameters(pipeline: Pipeline[Any], params: dict[str, Any], config: Path | None) -> None:
    accepted = pipeline.signature.parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        known = ", ".join(accepted) or "none"
        raise click.UsageError(
            f"pipeline '{pipeline.name}' has no parameter {', '.join(unknown)} (parameters: {known})"
        )
    given = {**(load_run_config(config).get("parameters", {}) if config else {}), **params}
    missing = [
        n for n, p in accepted.items() if p.default is inspect.Parameter.empty and n not in given
    ]
    if missing:
        raise click.UsageError(
            f"pipeline '{pipeline.name}' needs a value for {', '.join(missing)}: "
            f"pass -p {missing[0]}=VALUE"
        )
