"""``headrace stack``: register, list, show, set, delete; stacks selected by name; each
run records its stack; credentials never stored; bad input refused, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import TINY, headrace


def write_tiny(folder: Path) -> Path:
    path = folder / "tiny.py"
    path.write_text(TINY)
    return path


def test_register_list_show_set_and_delete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = headrace(
        "stack",
        "register",
        "iso",
        "--orchestrator",
        "local",
        "-o",
        "isolation=process",
        "-o",
        "max_parallel=2",
        home=home,
    )
    assert done.code == 0, str(done)
    listed = json.loads(headrace("stack", "list", "--json", home=home).stdout)
    assert [s["name"] for s in listed] == ["default", "iso"]
    assert [s["active"] for s in listed] == [True, False]
    shown = json.loads(headrace("stack", "show", "iso", "--json", home=home).stdout)
    assert shown["components"]["orchestrator"] == {
        "flavor": "local",
        "options": {"isolation": "process", "max_parallel": 2},
    }
    assert headrace("stack", "set", "iso", home=home).code == 0
    assert "* iso" in headrace("stack", "list", home=home).stdout

    script = write_tiny(tmp_path)
    run = json.loads(headrace("run", f"{script}:tiny", "--json", home=home).stdout)
    shown_run = json.loads(headrace("runs", "show", run["id"], "--json", home=home).stdout)
    assert shown_run["stack"]["name"] == "iso"
    assert shown_run["stack"]["orchestrator"]["options"]["isolation"] == "process"
    text = headrace("runs", "show", run["id"], home=home).stdout
    assert "stack        iso, orchestrator local" in text

    refused = headrace("stack", "delete", "iso", home=home)
    assert refused.code == 2 and "is the active stack" in refused.stderr
    assert headrace("stack", "set", "default", home=home).code == 0
    assert headrace("stack", "delete", "iso", home=home).code == 0
    assert [
        s["name"] for s in json.loads(headrace("stack", "list", "--json", home=home).stdout)
    ] == ["default"]


def test_headrace_stack_env_and_a_stack_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    other = tmp_path / "elsewhere"
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(
        f"orchestrator:\n  flavor: local\n  options: {{max_parallel: 1}}\n"
        f"artifacts:\n  uri: {other / 'artifacts'}\n"
        f"metadata:\n  url: sqlite:///{other / 'meta.db'}\n"
    )
    assert headrace("stack", "register", "away", "-f", str(stack_file), home=home).code == 0
    script = write_tiny(tmp_path)
    done = headrace("run", f"{script}:tiny", "--json", home=home, env={"HEADRACE_STACK": "away"})
    assert done.code == 0, str(done)
    assert (other / "meta.db").exists() and (other / "artifacts").is_dir()
    # The run went to the stack's stores, not the home's.
    assert json.loads(headrace("runs", "list", "--json", home=home).stdout) == []
    away = json.loads(
        headrace("runs", "list", "--json", home=home, env={"HEADRACE_STACK": "away"}).stdout
    )
    assert len(away) == 1
    missing = headrace("runs", "list", home=home, env={"HEADRACE_STACK": "nope"})
    assert missing.code == 1
    assert (
        "HEADRACE_STACK names stack 'nope', which is not registered (registered: default, away)"
        in missing.stderr
    )


def test_credentials_are_references_never_values(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clear = headrace(
        "stack",
        "register",
        "s3",
        "--artifacts",
        "memory://bucket",
        "--artifacts-option",
        "secret=hunter2",
        home=home,
    )
    assert clear.code == 2
    assert "option 'secret' holds a credential; give it as ${ENV_VAR}" in clear.stderr
    url = headrace(
        "stack",
        "register",
        "pg",
        "--metadata",
        "postgresql+psycopg://ci:hunter2@127.0.0.1/db",
        home=home,
    )
    assert url.code == 2 and "holds a password" in url.stderr
    unset = headrace(
        "stack",
        "register",
        "s3",
        "--artifacts",
        "memory://bucket",
        "--artifacts-option",
        "secret=${NO_SUCH_VARIABLE_HERE}",
        home=home,
    )
    assert unset.code == 2
    assert "names the environment variable NO_SUCH_VARIABLE_HERE, which is not set" in unset.stderr
    ok = headrace(
        "stack",
        "register",
        "s3",
        "--artifacts",
        "memory://bucket",
        "--artifacts-option",
        "secret=${S3_TEST_SECRET}",
        home=home,
        env={"S3_TEST_SECRET": "hunter2"},
    )
    assert ok.code == 0, str(ok)
    stored = headrace("stack", "show", "s3", "--json", home=home).stdout
    assert "hunter2" not in stored and "${S3_TEST_SECRET}" in stored
    assert [
        s["name"] for s in json.loads(headrace("stack", "list", "--json", home=home).stdout)
    ] == ["default", "s3"]


def test_bad_stacks_are_refused_and_change_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cases = [
        (["--orchestrator", "warp"], "unknown orchestrator flavor 'warp' (known: local"),
        (
            ["--orchestrator", "local", "-o", "threads=4"],
            "orchestrator flavor 'local' takes no option 'threads' (it takes: isolation, max_parallel)",
        ),
        (
            ["--artifacts", "/tmp/x", "--artifacts-option", "bucket=1"],
            "artifacts flavor 'file' takes no option 'bucket'",
        ),
        (["--metadata", "mysql://db/x"], "unknown metadata flavor 'mysql'"),
        (["-o", "max_parallel=2"], None),  # the flavor defaults to local: accepted
    ]
    for index, (args, message) in enumerate(cases):
        done = headrace("stack", "register", f"s{index}", *args, home=home)
        if message is None:
            assert done.code == 0, str(done)
            continue
        assert done.code == 2, str(done)
        assert message in done.stderr, done.stderr
    assert headrace("stack", "register", "default", "--orchestrator", "local", home=home).code == 2
    assert headrace("stack", "register", "x", home=home).code == 2  # no component at all
    assert headrace("stack", "show", "nope", home=home).code != 0
    assert headrace("stack", "set", "nope", home=home).code != 0
    listed = json.loads(headrace("stack", "list", "--json", home=home).stdout)
    assert [s["name"] for s in listed] == ["default", "s4"]
    assert headrace("stack", "delete", "default", home=home).code == 2


def test_with_options_stack_selects_a_registered_stack(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert headrace("stack", "register", "serial", "-o", "max_parallel=1", home=home).code == 0
    script = tmp_path / "choose.py"
    script.write_text(
        TINY + "\n\nif __name__ == '__main__':\n"
        "    run = tiny.with_options(stack='serial')()\n"
        "    print(run.stack['name'], run.stack['orchestrator']['options'])\n"
        "    try:\n"
        "        tiny.with_options(stack='missing')()\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "HEADRACE_HOME": str(home)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "serial {'max_parallel': 1}"
    assert second.startswith("ConfigError the stack names stack 'missing', which is not registered")
