"""Guards: every command and option is documented, and `--help` stays light."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from headrace.cli import COMMANDS, cli

from .helpers import EXAMPLE, REPO, headrace

DOCS = REPO / "docs" / "cli.md"


def _commands() -> Iterator[tuple[str, click.Command]]:
    def walk(
        command: click.Command, path: str, ctx: click.Context
    ) -> Iterator[tuple[str, click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, f"{path} {name}"
                yield from walk(
                    sub, f"{path} {name}", click.Context(sub, parent=ctx, info_name=name)
                )

    yield from walk(cli, "headrace", click.Context(cli, info_name="headrace"))


def _sections() -> dict[str, str]:
    """Heading text `headrace ...` -> the text up to the next heading."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^#{2,3} `(headrace[^`]*)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_command_and_option_is_documented() -> None:
    sections = _sections()
    seen = []
    for path, command in _commands():
        seen.append(path)
        assert path in sections, f"docs/cli.md has no section `{path}`"
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in [*param.opts, *param.secondary_opts]:
                    assert f"`{flag}" in sections[path], f"{path}: option {flag} is not documented"
            elif isinstance(param, click.Argument):
                assert (param.metavar or param.name or "").upper() in sections[path].upper()
    assert {p.split()[1] for p in seen if len(p.split()) > 1} == set(COMMANDS)


def test_top_level_help_matches_the_commands() -> None:
    ctx = click.Context(cli, info_name="headrace")
    for name, (_, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.get_short_help_str(200) == short_help


def test_help_imports_no_heavy_module() -> None:
    heavy = ("sqlalchemy", "pandas", "numpy", "yaml", "pyarrow", "sklearn", "alembic", "fsspec")
    code = f"""
import sys
from headrace.cli import cli, COMMANDS
assert cli.main(["--help"], prog_name="headrace", standalone_mode=False) == 0
for path in [[name] for name in COMMANDS] + [["runs", "list"], ["runs", "show"], ["env", "diff"],
             ["env", "show"], ["artifacts", "load"]]:
    assert cli.main([*path, "--help"], prog_name="headrace", standalone_mode=False) == 0, path
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_session_to_try_runs(tmp_path: Path) -> None:
    import shlex
    import shutil

    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"A session to try.*?```sh\n(.*?)```", text, flags=re.S)
    assert block is not None, "docs/cli.md lost its session to try"
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / EXAMPLE.name)
    for line in block.group(1).splitlines():
        words = shlex.split(line)
        assert words[0] == "headrace", line
        # No HEADRACE_HOME: `headrace init` makes ./.headrace, and later commands find it.
        done = headrace(*words[1:], home=None, cwd=tmp_path)
        assert done.code == 0, f"{line}\n{done}"
    assert (tmp_path / ".headrace" / "headrace.db").is_file()
    assert (tmp_path / "repro" / "reproduction.json").is_file()
