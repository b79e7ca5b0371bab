"""The stdlib read path answers exactly as the full store does, or steps aside."""

from __future__ import annotations

import time
from pathlib import Path

from headrace.store import sqlite_reader
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore


def _store(tmp_path: Path) -> tuple[str, MetadataStore]:
    url = f"sqlite:///{tmp_path / 'headrace.db'}"
    store = MetadataStore.open(url)
    store.put_environment("e" * 64, {"python": "3.11"})
    return url, store


def test_same_records_as_the_full_store(tmp_path: Path) -> None:
    url, store = _store(tmp_path)
    try:
        for i in range(30):
            run_id = f"{i:032x}"
            store.create_run(
                run_id=run_id,
                pipeline=f"p{i % 3}",
                parameters={"i": i, "nested": {"a": [1, 2]}},
                spec={"name": f"p{i % 3}"},
                environment_hash="e" * 64,
                started_at=time.time(),
            )
            store.finish_run(
                run_id, status="completed" if i % 4 else "failed", ended_at=time.time()
            )
            if i % 5 == 0:
                store.add_run_metadata(run_id, {"note": f"run {i}", "score": i / 10})
        for kwargs in (
            {},
            {"pipeline": "p1"},
            {"status": "failed"},
            {"limit": 7},
            {"pipeline": "p2", "status": "completed", "limit": 3},
            {"pipeline": "none"},
        ):
            assert sqlite_reader.list_runs(url, **kwargs) == store.list_runs(**kwargs), kwargs
    finally:
        store.close()


def test_steps_aside_when_it_cannot_answer_exactly(tmp_path: Path) -> None:
    url, store = _store(tmp_path)
    try:
        store.create_run(
            run_id="a" * 32,
            pipeline="p",
            parameters={},
            spec={},
            environment_hash="e" * 64,
            started_at=time.time(),
        )
        assert sqlite_reader.list_runs(url) is None  # a running run: crash check needed
        store.finish_run("a" * 32, status="completed", ended_at=time.time())
        assert [r.id for r in sqlite_reader.list_runs(url) or []] == ["a" * 32]
    finally:
        store.close()
    assert sqlite_reader.list_runs(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert sqlite_reader.list_runs("postgresql+psycopg://u@h/db") is None
    assert sqlite_reader.list_runs(url + "?timeout=3") is None
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("create table runs (id text)")
    assert sqlite_reader.list_runs(f"sqlite:///{other}") is None
