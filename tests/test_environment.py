"""Environment snapshots: what they hold, and that the git state is read at each run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headrace import environment


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def test_snapshot_holds_python_os_packages_and_source(tmp_path: Path) -> None:
    source = tmp_path / "flow.py"
    source.write_text("print('hi')\n")
    snap = environment.snapshot(str(source))
    assert snap["python"]["version"].count(".") == 2
    assert snap["os"]["system"]
    assert "pytest" in snap["packages"]
    assert snap["source"]["text"] == "print('hi')\n"
    assert snap["git"] is None  # not a repository
    assert environment.environment_hash(snap) == environment.environment_hash(dict(snap))
    assert "pytest==" in environment.requirements(snap)


def test_git_state_is_read_again_after_the_tree_changes(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(
        tmp_path,
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=a",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    source = tmp_path / "flow.py"
    source.write_text("A = 1\n")
    _git(tmp_path, "add", "flow.py")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "flow")
    clean = environment.snapshot(str(source))["git"]
    assert clean["dirty"] is False and clean["diff_hash"] is None
    source.write_text("A = 2\n")
    dirty = environment.snapshot(str(source))["git"]
    assert dirty["dirty"] is True and dirty["diff_hash"]
    assert dirty["commit"] == clean["commit"]


# -- what import resolves, editable installs, and the cached distribution list ------------

SRC = Path(__file__).resolve().parents[1] / "src"

FLOW = """\
from typing import Annotated
from headrace import pipeline, step

@step(cache=False)
def imported() -> Annotated[str, "version"]:
    import shadowpkg
    return shadowpkg.__version__

@pipeline
def env_flow():
    imported()

if __name__ == "__main__":
    env_flow()
"""


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A real wheel of a one-module package, written as any build backend would."""
    import base64
    import hashlib
    import zipfile

    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _pip_install(target: Path, *args: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _env(tmp_path: Path, *path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HEADRACE_HOME": str(tmp_path / "home"),
        "HEADRACE_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(SRC), *map(str, path)]),
        "NO_COLOR": "1",
    }


def _runs(tmp_path: Path) -> list[str]:
    listed = _run(tmp_path, "-m", "headrace.cli", "runs", "list", "--json", path=())
    return [r["id"] for r in json.loads(listed)]


def _imported(tmp_path: Path) -> str:
    code = "from headrace import Client; print(Client().artifact('version').load())"
    return _run(tmp_path, "-c", code, path=()).strip()


def _diff_last_two(tmp_path: Path, path: tuple[Path, ...]) -> str:
    newest, previous = _runs(tmp_path)[:2]
    return _run(tmp_path, "-m", "headrace.cli", "env", "diff", previous, newest, path=path)


def _run(tmp_path: Path, *command: str, path: tuple[Path, ...]) -> str:
    done = subprocess.run(
        [sys.executable, *command],
        cwd=tmp_path,
        env=_env(tmp_path, *path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def two_installs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """shadowpkg 1.0 and 2.0, each installed by pip into its own folder; and freshpkg."""
    base = tmp_path_factory.mktemp("installs")
    wheels = base / "wheels"
    old, new = base / "site_old", base / "site_new"
    _pip_install(old, "--no-index", str(_wheel(wheels, "shadowpkg", "1.0")))
    _pip_install(new, "--no-index", str(_wheel(wheels, "shadowpkg", "2.0")))
    return old, new, _wheel(wheels, "freshpkg", "0.3")


def test_the_copy_import_resolves_is_recorded_and_shadowed_ones_flagged(
    tmp_path: Path, two_installs: tuple[Path, Path, Path]
) -> None:
    old, new, _ = two_installs
    (tmp_path / "flow.py").write_text(FLOW)
    _run(tmp_path, "flow.py", path=(new, old))  # 2.0 first on sys.path, 1.0 behind it
    shown = _run(tmp_path, "-m", "headrace.cli", "env", "show", "latest", path=(new, old))
    assert "shadowpkg==2.0\n" in shown
    assert (
        f"# shadowed: shadowpkg 1.0 in {old.resolve()} is hidden by 2.0 in {new.resolve()}" in shown
    )
    as_json = json.loads(
        _run(tmp_path, "-m", "headrace.cli", "env", "show", "latest", "--json", path=(new, old))
    )
    assert as_json["packages"]["shadowpkg"] == "2.0"
    assert as_json["shadowed"]["shadowpkg"]["hidden"] == [
        {"version": "1.0", "path": str(old.resolve())}
    ]
    # The step imported the same copy the snapshot names.
    assert _imported(tmp_path) == "2.0"

    _run(tmp_path, "flow.py", path=(old, new))  # the other order: 1.0 is imported
    assert _imported(tmp_path) == "1.0"
    diff = _diff_last_two(tmp_path, path=(new,))
    assert "~ shadowpkg 2.0 -> 1.0" in diff.replace("\u2192", "->")


def test_a_cached_snapshot_is_reused_until_a_distribution_is_installed(
    tmp_path: Path, two_installs: tuple[Path, Path, Path]
) -> None:
    _, installed, fresh = two_installs
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    (tmp_path / "flow.py").write_text(FLOW)
    cache = tmp_path / "cache" / "environments"

    _run(tmp_path, "flow.py", path=(site,))
    assert len(list(cache.glob("*.json"))) == 1
    _run(tmp_path, "flow.py", path=(site,))
    assert len(list(cache.glob("*.json"))) == 1  # the same folders: the cached list

    _pip_install(site, "--no-index", str(fresh))  # between two runs
    _run(tmp_path, "flow.py", path=(site,))
    assert len(list(cache.glob("*.json"))) == 2
    diff = _diff_last_two(tmp_path, path=(site,))
    assert "packages: 1 added, 0 removed, 0 changed" in diff
    assert "+ freshpkg 0.3" in diff

    # A removal is seen too.
    shutil.rmtree(site / "freshpkg-0.3.dist-info")
    _run(tmp_path, "flow.py", path=(site,))
    diff = _diff_last_two(tmp_path, path=(site,))
    assert "- freshpkg 0.3" in diff


def test_an_editable_install_records_its_source_commit_and_dirty_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "edpkg"
    (project / "edpkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "edpkg"\nversion = "0.7"\ndescription = "x"\n'
    )
    (project / "edpkg" / "__init__.py").write_text('"""x"""\n__version__ = "0.7"\n')
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "v0.7")
    site = tmp_path / "site"
    _pip_install(site, "-e", str(project))
    monkeypatch.syspath_prepend(str(site))

    clean = environment.snapshot()
    entry = clean["editable"]["edpkg"]
    assert entry["path"] == str(project)
    assert entry["version"] == "0.7"
    assert entry["git"]["dirty"] is False and len(entry["git"]["commit"]) == 40

    (project / "edpkg" / "__init__.py").write_text('"""x"""\n__version__ = "0.7"\nA = 1\n')
    dirty = environment.snapshot()  # same folders, so the cached list, but git read again
    assert dirty["editable"]["edpkg"]["git"]["dirty"] is True
    assert environment.environment_hash(dirty) != environment.environment_hash(clean)

    from headrace.reproduce import diff_environments

    changes = diff_environments(clean, dirty)
    assert set(changes.editable) == {"edpkg"} and not changes.same
