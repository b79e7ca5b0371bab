"""A small HTTP client on the standard library, and free loopback ports."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(
    url: str, body: Any = None, *, raw: bytes | None = None, timeout: float = 30
) -> tuple[int, Any]:
    """(status, parsed JSON or text) of a GET (no body) or a POST."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def row(tenure: float = 12.0, spend: float = 60.0, calls: int = 1) -> dict[str, Any]:
    return {"tenure_months": tenure, "monthly_spend": spend, "support_calls": calls}
