"""Plain-text output: tables, trees, sizes, durations, times and colour (only on a terminal)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

_STATUS_COLOURS = {
    "completed": "green",
    "identical": "green",
    "failed": "red",
    "crashed": "red",
    "different": "red",
    "cancelled": "yellow",
    "running": "yellow",
    "skipped": "yellow",
    "not run": "yellow",
    "not comparable": "yellow",
    "new": "yellow",
}


def colour_enabled() -> bool:
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def style(text: str, **styles: Any) -> str:
    return click.style(text, **styles) if colour_enabled() else text


def status(text: str) -> str:
    colour = _STATUS_COLOURS.get(text)
    return style(text, fg=colour) if colour else text


def dim(text: str) -> str:
    return style(text, dim=True)


def bold(text: str) -> str:
    return style(text, bold=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str], styled: Sequence[str]) -> str:
        parts = [
            s + " " * (w - len(c)) for c, s, w in zip(cells[:-1], styled[:-1], widths, strict=False)
        ]
        return "  ".join([*parts, styled[-1]]).rstrip()

    click.echo(line(headers, [bold(h) for h in headers]))
    for row in rows:
        click.echo(line(row, [status(c) if c in _STATUS_COLOURS else c for c in row]))


def size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def local_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


def brief(value: Any, limit: int = 60) -> str:
    """A JSON value in one short line."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line_error(text: str, limit: int = 300) -> str:
    """A recorded error in one line: the last line of a traceback, else the text joined."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else " ".join(lines)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def key_values(values: dict[str, Any], limit: int = 60) -> str:
    return " ".join(f"{k}={brief(v, limit)}" for k, v in values.items()) or "-"


class Glyphs:
    """Tree-drawing characters: box drawing where stdout can encode it, ASCII otherwise."""

    def __init__(self) -> None:
        encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower().replace("-", "")
        if encoding in ("utf8", "utf16", "utf32"):
            self.tee, self.last, self.pipe, self.arrow = "├─ ", "└─ ", "│  ", "→"
        else:
            self.tee, self.last, self.pipe, self.arrow = "|- ", "`- ", "|  ", "->"
        self.blank = "   "
