"""Flavors are found through entry points exactly as a third-party package registers
them: a real package, installed with pip into a folder on the path, supplies an
orchestrator and an artifact store that a registered stack selects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace import flavors
from headrace.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"

[tool.setuptools]
py-modules = ["{module}"]

[project.entry-points."headrace.flavors"]
{entries}
"""

GOOD = '''\
"""A serial orchestrator that counts its tasks, and a backend for demofs:// URLs."""
import os
from concurrent.futures import Future
from pathlib import Path

from headrace.runner.task import execute_task
from headrace.store.backends import LocalBackend


class SerialOrchestrator:
    def __init__(self, log: str = "") -> None:
        self.log = log
        self.max_in_flight = 1

    def open(self, context):
        pass

    def submit(self, task):
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(task.run_name + "\\n")
        future = Future()
        future.set_result(execute_task(task.to_dict()))
        return future

    def cancel(self):
        pass

    def close(self):
        pass


class DemoBackend(LocalBackend):
    @classmethod
    def from_uri(cls, uri, **options):
        return cls(Path(os.environ["DEMOFS_ROOT"]) / uri.split("://", 1)[1])
'''

BROKEN = 'raise ImportError("broken_flavors needs a library that is not installed")\n'


def install(tmp_path: Path, name: str, module: str, source: str, entries: str) -> Path:
    package = tmp_path / name
    package.mkdir()
    (package / "pyproject.toml").write_text(
        PYPROJECT.format(name=name, module=module, entries=entries)
    )
    (package / f"{module}.py").write_text(source)
    target = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(package),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return target


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_a_third_party_flavor_package_runs_a_pipeline(tmp_path: Path) -> None:
    site = install(
        tmp_path,
        "headrace-demo-flavors",
        "demo_flavors",
        GOOD,
        '"orchestrator.serial" = "demo_flavors:SerialOrchestrator"\n'
        '"artifacts.demofs" = "demo_flavors:DemoBackend.from_uri"\n',
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src"), str(REPO / "tests")]),
        "HEADRACE_HOME": str(tmp_path / "home"),
        "DEMOFS_ROOT": str(tmp_path / "demofs"),
    }
    tasks = tmp_path / "tasks.log"
    done = cli(
        "stack",
        "register",
        "third",
        "--orchestrator",
        "serial",
        "-o",
        f"log={tasks}",
        "--artifacts",
        "demofs://store",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    done = cli(
        "run",
        str(REPO / "tests" / "runner" / "flows.py") + ":mapped",
        "-p",
        "n=3",
        "--json",
        env={**env, "HEADRACE_STACK": "third"},
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "completed"
    assert tasks.read_text().split() == ["numbers", "square[0]", "square[1]", "square[2]", "total"]
    stored = list((tmp_path / "demofs" / "store" / "objects").rglob("*.manifest.json"))
    assert len(stored) >= 4  # the numbers, three squares (0, 1, 4) and the total
    shown = json.loads(
        cli("runs", "show", run["id"], "--json", env={**env, "HEADRACE_STACK": "third"}).stdout
    )
    assert shown["stack"]["orchestrator"]["flavor"] == "serial"
    assert shown["stack"]["artifacts"]["uri"] == "demofs://store"


@pytest.mark.slow
def test_a_broken_flavor_package_is_named_and_breaks_nothing_else(tmp_path: Path) -> None:
    site = install(
        tmp_path,
        "headrace-broken-flavors",
        "broken_flavors",
        BROKEN,
        '"orchestrator.broken" = "broken_flavors:Nope"\n',
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src")]),
        "HEADRACE_HOME": str(tmp_path / "home"),
    }
    assert cli("--help", env=env).returncode == 0
    assert cli("stack", "list", env=env).returncode == 0
    done = cli("stack", "register", "b", "--orchestrator", "broken", env=env)
    assert done.returncode == 2
    assert (
        "orchestrator flavor 'broken' from the distribution 'headrace-broken-flavors' failed to load"
        in done.stderr
    )
    assert "broken_flavors needs a library that is not installed" in done.stderr


def test_unknown_flavors_and_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown orchestrator flavor 'warp' \(known: local"):
        flavors.create("orchestrator", "warp", {})
    with pytest.raises(ConfigError, match="orchestrator flavor 'local' takes no option 'cores'"):
        flavors.create("orchestrator", "local", {"cores": 2})
    with pytest.raises(ConfigError, match="unknown component kind 'engine'"):
        flavors.find("engine", "local")
    assert flavors.scheme_of("postgresql+psycopg://u@h/db") == "postgresql"
    assert flavors.scheme_of("/a/folder") == "file"
    assert flavors.scheme_of("s3://bucket/prefix") == "s3"


def test_the_built_in_flavors_are_registered_as_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {e.name for e in entry_points(group=flavors.GROUP)}
    assert set(flavors.BUILTIN) <= names
