"""How the command line reports failure: one line on stderr and an exit status.

=====  ====================================================================
 0     success
 1     a failure: a step failed, a run or artifact was not found, a store
       could not be opened or written, outputs were not reproduced
 2     a usage error: a bad option, argument or value
=====  ====================================================================

``--debug`` prints the traceback before that line.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from headrace.errors import HeadraceError

USAGE = 2
FAILURE = 1


@dataclass
class CliState:
    """What the group's options decided, shared with every command through ``ctx.obj``."""

    debug: bool = False
    home: Path | None = None  # --home, already resolved


def state() -> CliState:
    return click.get_current_context().ensure_object(CliState)


def one_line(text: str) -> str:
    """A message as a single line: whitespace runs (newlines included) become one space."""
    return re.sub(r"\s+", " ", text).strip()


def _describe_os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{what}: {exc.filename}"
    return what


def _report(message: str, exc: BaseException | None, debug: bool) -> None:
    if debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"Error: {one_line(message)}\n")
    sys.stderr.flush()


def invoke(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group`` on ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    cli_state = CliState(debug=os.environ.get("HEADRACE_DEBUG") == "1")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = group.main(args, prog_name="headrace", standalone_mode=False, obj=cli_state)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help())
        return 0
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _report(exc.format_message() + hint, exc, cli_state.debug)
        return USAGE
    except click.ClickException as exc:
        _report(exc.format_message(), exc, cli_state.debug)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt) as exc:
        _report("interrupted", exc, cli_state.debug)
        return 130
    except BrokenPipeError:
        # The reader went away (`headrace runs list | head`); say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILURE
    except HeadraceError as exc:
        _report(str(exc), exc, cli_state.debug)
        return FAILURE
    except OSError as exc:
        _report(_describe_os_error(exc), exc, cli_state.debug)
        return FAILURE
    except Exception as exc:
        hint = "" if cli_state.debug else " (rerun with --debug for the traceback)"
        _report(f"unexpected {type(exc).__name__}: {exc}{hint}", exc, cli_state.debug)
        return FAILURE
    return result if isinstance(result, int) else 0
