"""Self-contained HTML summaries of reports: inline CSS, every user string escaped."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5rem;color:#1f2328}
h1{font-size:1.3rem;margin:0 0 .5rem}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
.verdict{display:inline-block;padding:.15rem .6rem;border-radius:.8rem;font-weight:600}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
table{border-collapse:collapse;font-size:.88rem}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left}
th{background:#f6f8fa}tr.flag td{background:#fff8c5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;margin:.5rem 0}
"""


class Table(NamedTuple):
    """One table of a summary page; rows whose flag is true are highlighted."""

    caption: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    flags: Sequence[bool] = ()


def cell(value: Any) -> str:
    """Format one value for a table cell (escaped)."""
    if value is None:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "&mdash;"
        return html.escape(f"{value:.4g}")
    return html.escape(str(value))


def page(
    title: str,
    *,
    ok: bool,
    verdict: str,
    headline: Mapping[str, Any],
    tables: Sequence[Table] = (),
    images: Mapping[str, bytes] | None = None,
) -> str:
    """Render a whole HTML document; ``images`` are PNG bytes embedded as data URIs."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p><span class="verdict {"ok" if ok else "bad"}">{html.escape(verdict)}</span></p>',
        _table(Table("Summary", ("measure", "value"), [(k, v) for k, v in headline.items()])),
    ]
    parts.extend(_table(table) for table in tables)
    for name, png in (images or {}).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in table.headers)
    body = []
    flags = list(table.flags) + [False] * (len(table.rows) - len(table.flags))
    for row, flag in zip(table.rows, flags, strict=False):
        cells = "".join(
            f'<td class="num">{cell(v)}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{cell(v)}</td>"
            for v in row
        )
        body.append(f'<tr class="flag">{cells}</tr>' if flag else f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{max(len(table.headers), 1)}">none</td></tr>')
    return (
        f"<h2>{html.escape(table.caption)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
