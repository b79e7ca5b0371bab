"""Fixtures of the serving tests: the trained home of tests/models, and a model server
running in this process on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from models.conftest import trained, trained_template  # noqa: F401 - shared fixtures

from .http import free_port


@dataclass
class Running:
    url: str
    server: Any  # ModelServer
    client: Any


@pytest.fixture
def served(trained: Path) -> Iterator[Running]:  # noqa: F811
    """churn v1 promoted to production and served by a real uvicorn in a thread."""
    import uvicorn

    from headrace import Client
    from headrace.serving.app import ModelServer, create_app

    client = Client()
    client.model("churn").promote(1, to="production")
    server = ModelServer(client, "churn", "production", poll_interval=0.1, log_interval=0.2)
    port = free_port()
    http = uvicorn.Server(
        uvicorn.Config(create_app(server), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not http.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield Running(f"http://127.0.0.1:{port}", server, client)
    http.should_exit = True
    thread.join(timeout=20)
