"""`headrace init` and `headrace version`."""

from __future__ import annotations

from pathlib import Path

import yaml

from .helpers import headrace


def test_init_creates_the_home_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    first = headrace("init", home=None, cwd=project, env=env)
    assert first.code == 0, str(first)
    home = project / ".headrace"
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["created"] * 4
    assert (home / "headrace.db").is_file() and (home / "artifacts").is_dir()
    config = (home / "config.yaml").read_text()
    assert yaml.safe_load(config) is None  # defaults, all commented out
    assert "# metadata_url:" in config and "# artifact_uri:" in config
    again = headrace("init", home=None, cwd=project, env=env)
    assert again.code == 0, str(again)
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["exists"] * 4
    assert not (tmp_path / "xdg").exists()  # the user default was never touched

    found = headrace("version", "--verbose", "--json", home=None, cwd=project, env=env)
    facts = found.json()
    assert facts["home"] == str(home.resolve())
    assert facts["home_source"] == "the nearest .headrace/ folder"


def test_init_with_home_option(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    result = headrace("--home", target, "init", home=None, cwd=tmp_path)
    assert result.code == 0, str(result)
    assert (target / "config.yaml").is_file() and (target / "headrace.db").is_file()
    assert not (tmp_path / ".headrace").exists()


def test_version_verbose_masks_the_password(tmp_path: Path) -> None:
    plain = headrace("version", home=tmp_path / "home")
    assert plain.code == 0 and plain.stdout.startswith("headrace ")
    result = headrace(
        "version",
        "-v",
        home=tmp_path / "home",
        env={"HEADRACE_METADATA_URL": "postgresql+psycopg://ana:s3cret@db.example:5432/headrace"},
    )
    assert result.code == 0, str(result)
    assert "s3cret" not in result.stdout
    assert "postgresql+psycopg://ana:***@db.example:5432/headrace" in result.stdout
    assert f"{tmp_path / 'home'}  (from the HEADRACE_HOME variable)" in result.stdout
    assert "(from the HEADRACE_METADATA_URL variable)" in result.stdout
    assert not (tmp_path / "home").exists()  # looking is not creating
