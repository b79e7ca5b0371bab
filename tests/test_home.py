"""The home's config.yaml: environment variables in its values."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.errors import ConfigError
from headrace.home import read_config, resolve_settings


def _config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(text, encoding="utf-8")
    return home


def test_variables_are_expanded_in_every_string_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_BUCKET", "team-data")
    monkeypatch.setenv("DB_PASSWORD", "s3cr$t")
    monkeypatch.delenv("HEADRACE_METADATA_URL", raising=False)
    monkeypatch.delenv("HEADRACE_ARTIFACT_URI", raising=False)
    monkeypatch.delenv("PARALLEL", raising=False)
    home = _config(
        tmp_path / "home",
        "metadata_url: postgresql+psycopg://me:${DB_PASSWORD}@127.0.0.1:5432/test\n"
        "artifact_uri: s3://${TEAM_BUCKET}/runs/${RUN_AREA:-shared}\n"
        "orchestrator:\n  flavor: local\n  label: 'cost $${literal}'\n"
        "  max_parallel: ${PARALLEL:-2}\n",
    )
    config = read_config(home)
    assert config["metadata_url"] == "postgresql+psycopg://me:s3cr$t@127.0.0.1:5432/test"
    assert config["artifact_uri"] == "s3://team-data/runs/shared"
    assert config["orchestrator"]["label"] == "cost ${literal}"  # $${ is a literal ${
    assert config["orchestrator"]["max_parallel"] == "2"  # a string, as the text was
    settings = resolve_settings(home)
    assert settings.artifact_uri == "s3://team-data/runs/shared"

    monkeypatch.setenv("RUN_AREA", "nightly")
    assert read_config(home)["artifact_uri"] == "s3://team-data/runs/nightly"
    monkeypatch.setenv("RUN_AREA", "")  # empty counts as unset for :-
    assert read_config(home)["artifact_uri"] == "s3://team-data/runs/shared"


def test_a_missing_variable_is_a_config_error_naming_file_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_BUCKET", raising=False)
    home = _config(tmp_path / "home", "orchestrator:\n  target: s3://${NO_SUCH_BUCKET}/x\n")
    with pytest.raises(ConfigError) as info:
        read_config(home)
    message = str(info.value)
    assert str(home / "config.yaml") in message
    assert "key 'orchestrator.target'" in message
    assert "NO_SUCH_BUCKET is not set" in message


@pytest.mark.parametrize("text", ["${}", "${1ABC}", "${A B}", "${A:default}"])
def test_a_malformed_reference_is_a_config_error(tmp_path: Path, text: str) -> None:
    home = _config(tmp_path / "home", f"artifact_uri: '{text}'\n")
    with pytest.raises(ConfigError, match="is not a variable reference"):
        read_config(home)


def test_text_without_references_is_unchanged(tmp_path: Path) -> None:
    home = _config(tmp_path / "home", "artifact_uri: /data/$HOME/a$b\n")
    assert read_config(home)["artifact_uri"] == "/data/$HOME/a$b"  # only ${...} expands
