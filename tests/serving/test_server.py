"""The model server over real HTTP: predictions, validation, limits, metrics, hot swap and
the inference log."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from headrace import Client
from headrace.errors import ModelNotFoundError
from headrace.serving.app import MAX_BODY_BYTES, ModelServer, parse_target
from headrace.serving.inference_log import INFERENCE_LOG, read_inference_log

from .conftest import Running
from .http import request, row


def test_predict_health_and_metrics(served: Running) -> None:
    status, answer = request(f"{served.url}/predict", {"records": [row(), row(2, 95.0, 6)]})
    assert status == 200, answer
    assert answer["model"] == "churn" and answer["version"] == 1
    assert answer["model_version_id"] == served.client.model("churn").version(1).id
    assert len(answer["predictions"]) == 2 and all(
        isinstance(p, bool) for p in answer["predictions"]
    )
    assert answer["probabilities"][1] > answer["probabilities"][0]
    # one record, or a list of records, are accepted too
    assert request(f"{served.url}/predict", row())[0] == 200
    assert request(f"{served.url}/predict", [row(), row()])[1]["predictions"].__len__() == 2

    status, health = request(f"{served.url}/health")
    assert status == 200 and health["status"] == "ok" and health["version"] == 1
    assert [i["name"] for i in health["inputs"]] == [
        "tenure_months",
        "monthly_spend",
        "support_calls",
    ]

    status, text = request(f"{served.url}/metrics")
    assert status == 200
    assert 'headrace_requests_total{model="churn",status="200"} 3' in text
    assert 'headrace_request_latency_seconds_count{model="churn"} 3' in text
    assert f'version_id="{answer["model_version_id"]}"' in text
    assert 'headrace_model_version{model="churn"} 1' in text
    assert re.search(r'headrace_request_latency_ms\{model="churn",quantile="0.99"\} [0-9.]+', text)


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        (
            {"records": [{"tenure_months": "long", "monthly_spend": 1.0, "support_calls": 1}]},
            422,
            ["records", 0, "tenure_months"],
        ),
        (
            {"records": [{"tenure_months": 1.0, "support_calls": 1}]},
            422,
            ["records", 0, "monthly_spend"],
        ),
        ({"records": [{**row(), "support_calls": 1.5}]}, 422, ["records", 0, "support_calls"]),
        ({"records": [{**row(), "colour": "red"}]}, 422, ["records", 0, "colour"]),
        ({"records": [{**row(), "monthly_spend": None}]}, 422, ["records", 0, "monthly_spend"]),
        ({"records": [{**row(), "monthly_spend": True}]}, 422, ["records", 0, "monthly_spend"]),
        ({"records": []}, 422, ["records"]),
        ({"records": "all"}, 422, ["records"]),
        ({"records": [row()], "extra": 1}, 422, ["extra"]),
        ([row(), 3], 422, [1]),
        (17, 422, []),
    ],
)
def test_bad_payloads_are_422_naming_the_field(
    served: Running, body: object, status: int, where: list[object]
) -> None:
    got, answer = request(f"{served.url}/predict", body)
    assert got == status, answer
    assert where in [d["loc"] for d in answer["detail"]], answer


def test_malformed_json_oversized_bodies_and_wrong_routes(served: Running) -> None:
    for raw in (b"{not json", b"", b"\xff\xfe", b'{"records": [NaN]}', b"[" * 200_000):
        status, answer = request(f"{served.url}/predict", raw=raw)
        assert status in (400, 422), (raw, answer)
    status, answer = request(
        f"{served.url}/predict", raw=b'{"records": [' + b" " * MAX_BODY_BYTES + b"]}"
    )
    assert status == 413 and "larger than" in answer["detail"]
    assert request(f"{served.url}/nothing")[0] == 404
    # the server still answers, and nothing bad was logged
    assert request(f"{served.url}/predict", row())[0] == 200
    _, text = request(f"{served.url}/metrics")
    assert 'status="413"} 1' in text and 'status="400"}' in text
    served.server.logger.flush()
    log = read_inference_log(served.client, model="churn")
    assert len(log) == 1


def test_the_inference_log_traces_each_prediction_to_the_training_data(served: Running) -> None:
    _, answer = request(f"{served.url}/predict", {"records": [row(5, 70.0, 2), row(40, 50.0, 0)]})
    served.server.logger.flush()
    client = Client()
    version = client.artifact(INFERENCE_LOG)
    frame = version.load()
    assert list(frame["request_id"]) == [answer["request_id"]] * 2
    assert list(frame["tenure_months"]) == [5, 40]
    assert set(frame["model_version_id"]) == {answer["model_version_id"]}
    assert frame["latency_ms"].min() > 0
    assert version.metadata["model_version"] == 1
    upstream = client.lineage(version).upstream()
    served_version = client.model("churn").version(1)
    reached = {a.id for a in upstream.artifacts}
    assert served_version.model_artifact.id in reached
    assert served_version.artifacts["train"].id in reached
    run = client.run(version.producer_run_id or "")
    assert run.pipeline == "serve:churn" and run.status == "completed"


def test_the_server_follows_the_alias_without_failing_a_request(served: Running) -> None:
    failures: list[object] = []
    seen: list[list[int]] = [[], [], []]  # per client: its requests are sequential
    stop = threading.Event()

    def traffic(versions: list[int]) -> None:
        while not stop.is_set():
            status, answer = request(f"{served.url}/predict", row())
            if status != 200:
                failures.append(answer)
            else:
                versions.append(answer["version"])

    workers = [threading.Thread(target=traffic, args=(s,)) for s in seen]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    served.client.model("churn").promote(2, to="production")
    deadline = time.monotonic() + 20
    while served.server.current.version != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for worker in workers:
        worker.join()
    assert not failures
    for versions in seen:
        assert versions[0] == 1 and versions[-1] == 2
        # Once a client is answered by the new version, never by the old one again (the
        # order across clients is the order answers arrived in, not a promise).
        assert versions == sorted(versions)
    _, text = request(f"{served.url}/metrics")
    assert 'headrace_model_version{model="churn"} 2' in text
    assert 'headrace_model_swaps_total{model="churn"} 1' in text
    served.server.logger.flush()
    log = read_inference_log(served.client, model="churn")
    assert set(log["model_version"]) == {1, 2}
    assert len(log) == sum(len(versions) for versions in seen)


def test_unknown_model_or_alias_fails_before_serving(trained: Path) -> None:
    client = Client()
    with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
        ModelServer(client, "nope", "production")
    with pytest.raises(ModelNotFoundError, match="'production'"):
        ModelServer(client, "churn", "production")
    assert parse_target("churn@staging") == ("churn", "staging")
    assert parse_target("churn") == ("churn", "production")
    with pytest.raises(Exception, match="MODEL@ALIAS"):
        parse_target("churn@")


def test_the_log_buffer_is_bounded_while_the_store_is_down(tmp_path: Path) -> None:
    from headrace.home import StoreSettings
    from headrace.serving.inference_log import InferenceLogger

    settings = StoreSettings(metadata_url=f"sqlite:///{tmp_path}/x.db", artifact_uri=str(tmp_path))
    logger = InferenceLogger(settings, "churn", flush_rows=2)  # keeps at most 20 rows
    logger.log([{"row": i} for i in range(25)])
    assert logger.pending() == 20
    assert logger.dropped == 5


def test_a_non_finite_prediction_is_a_clear_error_not_a_crash(
    served: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    current = served.server.current
    nan_model = dataclasses.replace(
        current, predict=lambda rows: ([float("nan")] * len(rows), None)
    )
    monkeypatch.setattr(served.server, "current", nan_model)
    body = json.dumps({"records": [row()]}).encode()
    status, answer = served.server.handle_predict(body)
    assert status == 500
    assert "NaN or infinite" in answer["detail"]


def test_reading_the_log_pages_past_other_models(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from headrace.store.records import ArtifactVersionRecord

    def record(i: int, model: str) -> ArtifactVersionRecord:
        return ArtifactVersionRecord(
            id=f"{i}",
            name=INFERENCE_LOG,
            version=i,
            hash="0" * 64,
            uri="",
            type="t",
            materializer="pandas",
            size=0,
            metadata={"model": model},
            created_at=0.0,
            producer_step_run_id=None,
            producer_run_id=None,
        )

    # Newest first: 300 versions of another model, then 2 of churn.
    versions = [record(i, "other") for i in range(300)] + [
        record(300, "churn"),
        record(301, "churn"),
    ]

    def list_artifact_versions(
        *, name: str, limit: int, offset: int
    ) -> list[ArtifactVersionRecord]:
        return versions[offset : offset + limit]

    import pandas as pd

    loaded: list[str] = []
    client = SimpleNamespace(
        stores=SimpleNamespace(
            metadata=SimpleNamespace(list_artifact_versions=list_artifact_versions)
        )
    )
    from headrace import client as client_module

    original = client_module.ArtifactVersion.load
    try:
        client_module.ArtifactVersion.load = lambda self: (  # type: ignore[method-assign]
            loaded.append(self.id) or pd.DataFrame({"v": [int(self.id)]})
        )
        frame = read_inference_log(client, model="churn", limit=5)
    finally:
        client_module.ArtifactVersion.load = original  # type: ignore[method-assign]
    assert loaded == ["300", "301"]
    assert list(frame["v"]) == [301, 300]


def test_a_large_batch_is_predicted_off_the_event_loop(served: Running) -> None:
    records = [row(float(i % 40), 50.0 + i % 30, i % 5) for i in range(3000)]
    assert len(json.dumps({"records": records})) > 64 * 1024
    status, answer = request(f"{served.url}/predict", {"records": records})
    assert status == 200
    assert len(answer["predictions"]) == 3000
    assert request(f"{served.url}/health")[0] == 200
