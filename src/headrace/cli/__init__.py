"""The ``headrace`` command line.

Each top-level command lives in its own module and is imported only when it is used, and
those modules import the stores, pandas and friends inside their functions: ``headrace
--help`` loads click and the light ``headrace`` package, nothing more.

Errors print one line on stderr and exit non-zero: 2 for a usage error, 1 for a failure.
``headrace --debug ...`` adds the traceback. See docs/cli.md for every command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from headrace import __version__
from headrace.cli._errors import CliState, invoke
from headrace.cli._groups import LazyGroup

__all__ = ["cli", "main"]

# name -> (module:attribute, the one-line help shown by `headrace --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("headrace.cli.home:init", "Create a .headrace/ home in this folder."),
    "version": ("headrace.cli.home:version", "Show the version and where data lives."),
    "run": ("headrace.cli.run:run", "Run a pipeline from a Python file."),
    "runs": ("headrace.cli.runs:runs", "List runs and show one as a tree of steps."),
    "artifacts": ("headrace.cli.artifacts:artifacts", "List, show and export artifact versions."),
    "lineage": (
        "headrace.cli.lineage:lineage",
        "Show where an artifact came from and what used it.",
    ),
    "env": ("headrace.cli.env:env", "Show a run's pinned environment, or compare two."),
    "reproduce": (
        "headrace.cli.reproduce:reproduce",
        "Rerun a run and check outputs are bit-identical.",
    ),
    "resume": ("headrace.cli.resume:resume", "Rerun what a failed or crashed run left unfinished."),
    "gc": ("headrace.cli.gc:gc", "Remove temporary files and unreferenced artifact bytes."),
    "models": ("headrace.cli.models:models", "List, show, promote and export model versions."),
    "serve": ("headrace.cli.serve:serve", "Serve a model version over HTTP (MODEL@ALIAS)."),
    "schedule": ("headrace.cli.schedule:schedule", "Add, list and remove pipeline schedules."),
    "scheduler": ("headrace.cli.schedule:scheduler", "Run due schedules in the foreground."),
    "stack": ("headrace.cli.stack:stack", "Register, list, show, choose and delete stacks."),
}


def _set_home(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is None:
        return
    folder = value.expanduser().resolve()
    state = ctx.ensure_object(CliState)
    state.home = folder
    # Through the environment, so that everything this process starts agrees.
    os.environ["HEADRACE_HOME"] = str(folder)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).debug = True


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_set_home,
    expose_value=False,
    is_eager=True,
    metavar="PATH",
    help="Use this home folder (instead of HEADRACE_HOME, ./.headrace or the user default).",
)
@click.option(
    "--debug",
    is_flag=True,
    callback=_set_debug,
    expose_value=False,
    is_eager=True,
    help="Show the full traceback when a command fails.",
)
@click.version_option(__version__, "-V", "--version", prog_name="headrace")
def cli() -> None:
    """headrace: data-centric ML pipelines with versioned artifacts and lineage.

    Data lives in the home folder: HEADRACE_HOME if set, else the nearest .headrace/
    folder made by `headrace init`, else a per-user default (`headrace version -v`
    shows which).
    """


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The console script: run the command line and exit with its status."""
    raise SystemExit(invoke(cli, argv))
