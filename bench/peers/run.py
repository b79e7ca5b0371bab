#!/usr/bin/env python3
"""Side-by-side benchmark of headrace, ZenML and Metaflow on equivalent workloads.

    python3 bench/peers/run.py                 # set up missing virtualenvs, then benchmark
    python3 bench/peers/run.py --setup-only    # only create the virtualenvs
    python3 bench/peers/run.py --repeats 7 --frameworks headrace,zenml

Each framework lives in its own virtualenv under bench/.venvs/<framework>, created here
with ``python3 -m venv`` and pip using bench/peers/constraints.txt. Workloads:

    B1  startup: ``import <framework>`` in a fresh interpreter, and the CLI's ``--help``
    B2  cold run of a linear 10-step pipeline passing a dict of 100 ints, on a fresh store
    B3  the same pipeline again with identical parameters (cache hits where supported)
    B4  3 steps passing a 1,000,000 x 10 float DataFrame (make -> transform -> summarize)

Every workload runs once untimed (warm-up), then ``--repeats`` times, rotating the order
of the frameworks each round. Each run is a separate process with a time limit. The
medians go to stdout and bench/results/peers.md, everything raw to
bench/results/peers.json. A framework that cannot be installed, or a workload that
fails, is reported with its error instead of a number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
RESULTS = BENCH / "results"
CONSTRAINTS = HERE / "constraints.txt"

RUN_TIMEOUT = 300.0
INSTALL_TIMEOUT = 1800.0
FAILURES_BEFORE_GIVING_UP = 2

FRAMEWORKS: dict[str, dict[str, Any]] = {
    "headrace": {
        "pip": ["-e", f"{REPO}[ml]"],
        "dist": "headrace",
        "module": "headrace",
        "cli": ["headrace", "--help"],
        "linear": ["linear.py"],
        "dataframe": ["dataframe.py"],
    },
    "zenml": {
        "pip": ["zenml[local]==0.98.0", "pandas", "pyarrow"],
        "dist": "zenml",
        "module": "zenml",
        "cli": ["zenml", "--help"],
        "linear": ["linear.py"],
        "dataframe": ["dataframe.py"],
    },
    "metaflow": {
        "pip": ["metaflow==2.19.39", "pandas"],
        "dist": "metaflow",
        "module": "metaflow",
        "cli": ["metaflow", "--help"],
        "linear": ["linear_flow.py", "run", "--run-id-file", "run-id"],
        "dataframe": ["dataframe_flow.py", "run"],
    },
}

# (key, label, framework-specific notes) of the main table, in order.
MAIN_ROWS = [
    ("B1-import", "B1 `import <framework>` (in-process)"),
    ("B1-cli", "B1 CLI `--help` (process wall)"),
    ("B2", "B2 cold 10-step pipeline (process wall)"),
    ("B3", "B3 rerun, same parameters (process wall)"),
    ("B4", "B4 DataFrame 1M x 10, 3 steps (process wall)"),
]
EXTRA_ROWS = [
    ("B1-python", "Interpreter start `python -c pass` (process wall)"),
    ("B1-import-wall", "B1 `python -c 'import <framework>'` (process wall)"),
    ("B1-flow-help", "B1 `python linear_flow.py --help` (Metaflow, process wall)"),
    ("init", "Store set-up before B2: `zenml init` (process wall)"),
    ("B2-call", "B2 pipeline call only (in-process)"),
    ("B3-call", "B3 pipeline call only (in-process)"),
    ("B3-plain", "B3 alternative for Metaflow: plain `run` again (process wall)"),
    ("B4-call", "B4 pipeline call only (in-process)"),
]

IMPORT_SNIPPET = (
    "import time; t = time.perf_counter(); import {module}; "
    "print('BENCH_RESULT {{\"seconds\": %r}}' % (time.perf_counter() - t))"
)
RESULT_LINE = re.compile(r"BENCH_RESULT (\{.*\})")


# --------------------------------------------------------------------------- processes


def run_process(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None
) -> dict[str, Any]:
    """Run one command in its own process group; wall time, exit status and output."""
    timeout = timeout or RUN_TIMEOUT
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return {
            "ok": False,
            "load": load,
            "wall": time.perf_counter() - start,
            "error": f"timed out after {timeout:.0f} s: {' '.join(cmd)}",
            "tail": _tail(out, err),
        }
    wall = time.perf_counter() - start
    result: dict[str, Any] = {
        "ok": proc.returncode == 0,
        "wall": wall,
        "returncode": proc.returncode,
        "load": load,
    }
    found = RESULT_LINE.findall(out)
    if found:
        result["result"] = json.loads(found[-1])
    if proc.returncode != 0:
        result["error"] = f"exit {proc.returncode}: {_last_error_line(out, err)}"
        result["tail"] = _tail(out, err)
    result["stdout"] = out
    return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(out: str, err: str, lines: int = 25) -> str:
    text = (out or "") + ("\n" if out and err else "") + (err or "")
    return "\n".join(text.strip().splitlines()[-lines:])


def _last_error_line(out: str, err: str) -> str:
    for text in (err, out):
        for line in reversed((text or "").strip().splitlines()):
            line = line.strip()
            if line and not line.startswith(("File ", "^", "~")):
                return line[:300]
    return "no output"


# --------------------------------------------------------------------------- virtualenvs


def venv_python(framework: str) -> Path:
    return VENVS / framework / "bin" / "python"


def ensure_venv(framework: str, log: Any) -> dict[str, Any]:
    """Create bench/.venvs/<framework> unless a finished one is there; return its facts."""
    venv = VENVS / framework
    info_file = venv / "bench-install.json"
    if info_file.is_file():
        info = json.loads(info_file.read_text())
        info["reused"] = True
        return info
    if venv.exists():
        shutil.rmtree(venv)  # left over from an interrupted install
    VENVS.mkdir(parents=True, exist_ok=True)
    spec = FRAMEWORKS[framework]
    env = _install_env()
    log(f"[setup] creating {venv}")
    start = time.perf_counter()
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv_python(framework)),
            "-m",
            "pip",
            "install",
            "--no-input",
            "--progress-bar",
            "off",
            "-c",
            str(CONSTRAINTS),
            *spec["pip"],
        ],
    ]
    egg_info = REPO / "src" / "headrace.egg-info"
    made_egg_info = framework == "headrace" and not egg_info.exists()
    for cmd in steps:
        result = run_process(cmd, env, REPO, timeout=INSTALL_TIMEOUT)
        (VENVS / f"{framework}-install.log").write_text(
            result.get("stdout", "") + result.get("tail", "")
        )
        if not result["ok"]:
            error = result["error"]
            log(f"[setup] {framework}: install failed: {error}\n{result.get('tail', '')}")
            shutil.rmtree(venv, ignore_errors=True)
            return {"ok": False, "error": f"install failed ({' '.join(cmd[:5])} ...): {error}"}
    seconds = time.perf_counter() - start
    if made_egg_info:
        # Left in the source tree by the editable build; the install does not need it.
        shutil.rmtree(egg_info, ignore_errors=True)
    check = run_process(
        [str(venv_python(framework)), "-c", f"import {spec['module']}"], env, REPO, timeout=120
    )
    if not check["ok"]:
        return {
            "ok": False,
            "error": f"installed but `import {spec['module']}` fails: {check['error']}",
        }
    freeze = run_process(
        [str(venv_python(framework)), "-m", "pip", "freeze"], env, REPO, timeout=120
    )
    packages = [line for line in freeze.get("stdout", "").splitlines() if line.strip()]
    (venv / "bench-freeze.txt").write_text("\n".join(packages) + "\n")
    info = {
        "ok": True,
        "install_seconds": round(seconds, 1),
        "size_bytes": _tree_size(venv),
        "packages": len(packages),
        "version": _dist_version(framework),
        "pip": _dist_version(framework, "pip"),
        "python": _python_version(framework),
        "pip_args": spec["pip"],
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reused": False,
    }
    info_file.write_text(json.dumps(info, indent=2))
    log(
        f"[setup] {framework} {info['version']}: {info['install_seconds']} s, "
        f"{info['size_bytes'] / 1e6:.0f} MB, {info['packages']} packages"
    )
    return info


def _install_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _dist_version(framework: str, dist: str | None = None) -> str:
    name = dist or FRAMEWORKS[framework]["dist"]
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    out = subprocess.run(
        [str(venv_python(framework)), "-c", code], capture_output=True, text=True, timeout=60
    )
    return out.stdout.strip() or "unknown"


def _python_version(framework: str) -> str:
    out = subprocess.run(
        [str(venv_python(framework)), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def _tree_size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


# --------------------------------------------------------------------------- environments


def run_env(framework: str, work: Path) -> dict[str, str]:
    """A small, explicit environment: the framework's venv first on PATH, its data in
    ``work``, telemetry off. Nothing inherited that could change behaviour."""
    venv = VENVS / framework
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "VIRTUAL_ENV": str(venv),
        # Bytecode for every framework goes to one place outside the source trees.
        "PYTHONPYCACHEPREFIX": str(VENVS / ".pycache" / framework),
        "DO_NOT_TRACK": "1",
    }
    if framework == "headrace":
        env["HEADRACE_HOME"] = str(work / "headrace-home")
    elif framework == "zenml":
        env.update(
            ZENML_CONFIG_PATH=str(work / "zenml-config"),
            ZENML_ANALYTICS_OPT_IN="false",
            ZENML_DEBUG="false",
            ZENML_ENABLE_RICH_TRACEBACK="false",
            ZENML_LOGGING_COLORS_DISABLED="true",
            AUTO_OPEN_DASHBOARD="false",
            ZENML_AUTO_OPEN_DASHBOARD="false",
        )
    elif framework == "metaflow":
        env.update(
            METAFLOW_HOME=str(work / "metaflow-home"),
            METAFLOW_DATASTORE_SYSROOT_LOCAL=str(work / "metaflow-store"),
            METAFLOW_DEFAULT_DATASTORE="local",
            METAFLOW_DEFAULT_METADATA="local",
            USERNAME="bench",
            METAFLOW_USER="bench",
        )
    return env


def fresh_workdir(framework: str, parent: Path, tag: str) -> Path:
    """A new folder holding a copy of the framework's workload scripts (ZenML wants its
    source root, made by ``zenml init``, to contain the pipeline file)."""
    work = Path(tempfile.mkdtemp(prefix=f"{framework}-{tag}-", dir=parent))
    for script in (HERE / framework).glob("*.py"):
        shutil.copy2(script, work / script.name)
    return work


# --------------------------------------------------------------------------- workloads


class Recorder:
    def __init__(self, frameworks: list[str], log: Any) -> None:
        self.runs: list[dict[str, Any]] = []
        self.failures: dict[tuple[str, str], int] = {}
        self.frameworks = frameworks
        self.log = log

    def given_up(self, framework: str, key: str) -> bool:
        return self.failures.get((framework, key), 0) >= FAILURES_BEFORE_GIVING_UP

    def add(
        self, framework: str, key: str, round_no: int, result: dict[str, Any], value: float | None
    ) -> bool:
        ok = result["ok"] and value is not None
        entry = {
            "framework": framework,
            "workload": key,
            "round": round_no,
            "warmup": round_no == 0,
            "ok": ok,
            "seconds": value if ok else None,
            "wall": result.get("wall"),
            "load_1min": result.get("load"),
            "result": result.get("result"),
        }
        if not ok:
            entry["error"] = result.get("error") or "no BENCH_RESULT line in the output"
            entry["tail"] = result.get("tail") or _tail(result.get("stdout", ""), "")
            self.failures[(framework, key)] = self.failures.get((framework, key), 0) + 1
            self.log(f"  {framework} {key} round {round_no}: FAILED {entry['error']}")
        else:
            self.failures[(framework, key)] = 0
            self.log(f"  {framework} {key} round {round_no}: {value:.3f} s")
        if "note" in result:
            entry["note"] = result["note"]
        self.runs.append(entry)
        return ok


def startup_round(framework: str, work: Path, rec: Recorder, round_no: int) -> None:
    spec = FRAMEWORKS[framework]
    env = run_env(framework, work)
    py = str(venv_python(framework))
    r = run_process([py, "-c", "pass"], env, work)
    rec.add(framework, "B1-python", round_no, r, r["wall"])
    if not rec.given_up(framework, "B1-import"):
        r = run_process([py, "-c", IMPORT_SNIPPET.format(module=spec["module"])], env, work)
        seconds = (r.get("result") or {}).get("seconds")
        rec.add(framework, "B1-import", round_no, r, seconds)
        rec.add(
            framework, "B1-import-wall", round_no, r, r["wall"] if seconds is not None else None
        )
    if not rec.given_up(framework, "B1-cli"):
        r = run_process(spec["cli"], env, work)
        rec.add(framework, "B1-cli", round_no, r, r["wall"])
    if framework == "metaflow" and not rec.given_up(framework, "B1-flow-help"):
        r = run_process([py, "linear_flow.py", "--help"], env, work)
        rec.add(framework, "B1-flow-help", round_no, r, r["wall"])


def _check_linear(result: dict[str, Any], expect_hits: int | None) -> dict[str, Any]:
    """The final dict must sum to sum(range(100)) + 9 * 100."""
    payload = result.get("result") or {}
    if result["ok"] and "check" not in payload:
        return {**result, "ok": False, "error": "no result printed"}
    if result["ok"] and payload["check"] != 5850:
        result = {**result, "ok": False, "error": f"wrong result: sum {payload['check']} != 5850"}
    hits = payload.get("cache_hits")
    if result["ok"] and expect_hits is not None and hits is not None and hits != expect_hits:
        result = {
            **result,
            "note": f"{payload.get('cache_hits')} of {payload.get('steps')} steps were cache hits",
        }
    return result


def _check_frame(result: dict[str, Any]) -> dict[str, Any]:
    payload = result.get("result") or {}
    if result["ok"] and (payload.get("rows"), payload.get("cols")) != (1_000_000, 11):
        return {**result, "ok": False, "error": f"wrong summary {payload}"}
    if result["ok"] and not payload:
        return {**result, "ok": False, "error": "no summary printed"}
    return result


def pipeline_round(framework: str, parent: Path, rec: Recorder, round_no: int) -> None:
    """On one fresh store: [zenml init], B2 cold run, B3 rerun, B4 DataFrame pipeline."""
    spec = FRAMEWORKS[framework]
    work = fresh_workdir(framework, parent, f"r{round_no}")
    env = run_env(framework, work)
    py = str(venv_python(framework))
    try:
        if framework == "zenml":
            r = run_process(["zenml", "init"], env, work)
            rec.add(framework, "init", round_no, r, r["wall"])
            if not r["ok"]:
                for key in ("B2", "B3", "B4"):
                    rec.add(
                        framework,
                        key,
                        round_no,
                        {**r, "error": f"zenml init failed: {r['error']}"},
                        None,
                    )
                return
        b2_ok = False
        if not rec.given_up(framework, "B2"):
            r = _check_linear(run_process([py, *spec["linear"]], env, work), expect_hits=0)
            b2_ok = rec.add(framework, "B2", round_no, r, r["wall"])
            call = (r.get("result") or {}).get("pipeline_seconds")
            if call is not None:
                rec.add(framework, "B2-call", round_no, r, call)
        if not b2_ok:
            skipped = {"ok": False, "error": "skipped: B2 failed in this round"}
            rec.add(framework, "B3", round_no, skipped, None)
        else:
            if framework == "metaflow":
                run_id = (work / "run-id").read_text().strip()
                cmd = [py, "linear_flow.py", "resume", "--origin-run-id", run_id]
                r = run_process(cmd, env, work)
                r = _metaflow_resume_check(r)
                rec.add(framework, "B3", round_no, r, r["wall"])
                r = _check_linear(run_process([py, "linear_flow.py", "run"], env, work), None)
                rec.add(framework, "B3-plain", round_no, r, r["wall"])
            else:
                r = _check_linear(run_process([py, *spec["linear"]], env, work), expect_hits=10)
                rec.add(framework, "B3", round_no, r, r["wall"])
                call = (r.get("result") or {}).get("pipeline_seconds")
                if call is not None:
                    rec.add(framework, "B3-call", round_no, r, call)
        if not rec.given_up(framework, "B4"):
            r = _check_frame(run_process([py, *spec["dataframe"]], env, work))
            rec.add(framework, "B4", round_no, r, r["wall"])
            call = (r.get("result") or {}).get("pipeline_seconds")
            if call is not None:
                rec.add(framework, "B4-call", round_no, r, call)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _metaflow_resume_check(result: dict[str, Any]) -> dict[str, Any]:
    """``resume`` of a finished run clones every task from the origin run instead of
    running it: count the clones, the counterpart of cache hits."""
    cloned = len(re.findall(r"Cloning previously run task", result.get("stdout", "")))
    result = {**result, "result": {"steps": 10, "cache_hits": cloned}}
    if result["ok"] and cloned != 10:
        result["note"] = f"resume cloned {cloned} of 10 tasks"
    return result


# --------------------------------------------------------------------------- report


def summarize(rec: Recorder, frameworks: list[str], installs: dict[str, dict[str, Any]]) -> dict:
    summary: dict[str, dict[str, Any]] = {}
    for key, _label in MAIN_ROWS + EXTRA_ROWS:
        summary[key] = {}
        for fw in frameworks:
            timed = [
                r
                for r in rec.runs
                if r["framework"] == fw and r["workload"] == key and not r["warmup"]
            ]
            good = [r["seconds"] for r in timed if r["ok"]]
            failed = [r for r in timed if not r["ok"]]
            all_runs = [r for r in rec.runs if r["framework"] == fw and r["workload"] == key]
            cell: dict[str, Any] = {"n": len(good), "failed": len(failed)}
            if good:
                cell["median"] = statistics.median(good)
                cell["min"] = min(good)
                cell["max"] = max(good)
            if not installs.get(fw, {}).get("ok", False):
                cell["error"] = installs.get(fw, {}).get("error", "not installed")
            elif not good and all_runs:
                errs = [r.get("error") for r in all_runs if not r["ok"]]
                cell["error"] = errs[-1] if errs else "failed"
            notes = sorted({r["note"] for r in timed if r.get("note")})
            if notes:
                cell["notes"] = notes
            summary[key][fw] = cell
    return summary


def _fmt(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "n/a"
    if "median" in cell:
        text = f"{cell['median']:.3f}"
        if cell.get("failed"):
            text += f" ({cell['failed']} failed)"
        return text
    if "error" in cell:
        return "failed"
    return "n/a"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if a and b and "median" in a and "median" in b and b["median"] > 0:
        return f"{a['median'] / b['median']:.2f}"
    return "n/a"


def render(report: dict[str, Any]) -> str:
    frameworks = report["frameworks"]
    summary = report["summary"]
    peers = [fw for fw in frameworks if fw != "headrace"]
    lines = [
        "# headrace vs peers: benchmark results",
        "",
        f"Run {report['started']} on {report['machine']['cpu']} "
        f"({report['machine']['nproc']} cores, {report['machine']['memory_gb']} GB), "
        f"{report['machine']['os']}, Python {report['machine']['python']}. "
        f"{report['repeats']} timed rounds per workload after one warm-up round, "
        f"framework order rotated each round; medians in seconds; "
        f"time limit {report['timeout']:.0f} s per run.",
        "",
        f"1-minute load average when the timed runs started: median "
        f"{report['load']['median']:.1f}, range {report['load']['min']:.1f}-"
        f"{report['load']['max']:.1f} (other work shared the machine).",
        "",
        "Frameworks: "
        + ", ".join(
            f"{fw} {report['installs'][fw].get('version', '(not installed)')}" for fw in frameworks
        )
        + ".",
        "",
    ]
    ratios = [f"headrace/{p}" for p in peers] if "headrace" in frameworks else []
    header = "| " + " | ".join(["Workload", *frameworks, *ratios]) + " |"
    sep = "|" + "---|" * (1 + len(frameworks) + len(ratios))
    for title, rows in (("Main workloads", MAIN_ROWS), ("Breakdown and alternatives", EXTRA_ROWS)):
        lines += [f"## {title}", "", header, sep]
        for key, label in rows:
            cells = summary.get(key, {})
            empty = not any("median" in c or "error" in c for c in cells.values())
            if empty and title != "Main workloads":
                continue
            row = [label] + [_fmt(cells.get(fw)) for fw in frameworks]
            if "headrace" in frameworks:
                row += [_ratio(cells.get("headrace"), cells.get(p)) for p in peers]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += [
        "## Spread of the timed runs (min-max)",
        "",
        "| " + " | ".join(["Workload", *frameworks]) + " |",
        "|" + "---|" * (1 + len(frameworks)),
    ]
    for key, label in MAIN_ROWS:
        cells = summary.get(key, {})
        spread = [
            f"{cells[fw]['min']:.3f}-{cells[fw]['max']:.3f}"
            if "median" in cells.get(fw, {})
            else "n/a"
            for fw in frameworks
        ]
        lines.append("| " + " | ".join([label, *spread]) + " |")
    lines.append("")
    lines += [
        "## Installations",
        "",
        "| Framework | Version | Install time (s) | Size (MB) | Packages |",
        "|---|---|---|---|---|",
    ]
    for fw in frameworks:
        info = report["installs"][fw]
        if info.get("ok"):
            lines.append(
                f"| {fw} | {info['version']} | {info['install_seconds']} | "
                f"{info['size_bytes'] / 1e6:.0f} | {info['packages']} |"
            )
        else:
            lines.append(f"| {fw} | failed | | | |")
    lines.append("")
    problems = []
    for key, _label in MAIN_ROWS + EXTRA_ROWS:
        for fw, cell in summary.get(key, {}).items():
            if "error" in cell:
                problems.append(f"- {fw} {key}: {cell['error']}")
            elif cell.get("failed"):
                errs = {
                    r.get("error")
                    for r in report["runs"]
                    if r["framework"] == fw
                    and r["workload"] == key
                    and not r["ok"]
                    and not r["warmup"]
                }
                reasons = "; ".join(sorted(map(str, errs)))
                problems.append(
                    f"- {fw} {key}: {cell['failed']} of {report['repeats']} runs failed: {reasons}"
                )
            for note in cell.get("notes", []):
                problems.append(f"- {fw} {key}: {note}")
    lines += ["## Failures and notes", ""]
    lines += problems or ["- none"]
    lines.append("")
    return "\n".join(lines)


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = round(pages / 2**30)
    except (ValueError, OSError):
        memory = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global RUN_TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed rounds per workload (default 5)"
    )
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset")
    parser.add_argument(
        "--timeout", type=float, default=RUN_TIMEOUT, help="seconds per run (default 300)"
    )
    parser.add_argument("--setup-only", action="store_true", help="create the virtualenvs and stop")
    parser.add_argument("--output", default=str(RESULTS / "peers.md"), help="Markdown report path")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite the Markdown report from the JSON next to --output",
    )
    args = parser.parse_args(argv)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(frameworks) - set(FRAMEWORKS)
    if unknown:
        parser.error(f"unknown frameworks: {', '.join(sorted(unknown))}")
    RUN_TIMEOUT = args.timeout

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.report_only:
        report = json.loads(Path(args.output).with_suffix(".json").read_text())
        text = render(report)
        Path(args.output).write_text(text)
        print(text)
        return 0

    started = datetime.now(UTC).isoformat(timespec="seconds")
    installs = {fw: ensure_venv(fw, log) for fw in frameworks}
    if args.setup_only:
        print(json.dumps(installs, indent=2))
        return 0 if all(i.get("ok") for i in installs.values()) else 1

    ready = [fw for fw in frameworks if installs[fw].get("ok")]
    rec = Recorder(frameworks, log)
    with tempfile.TemporaryDirectory(prefix="headrace-peers-") as tmp:
        parent = Path(tmp)
        startup_dirs = {fw: fresh_workdir(fw, parent, "startup") for fw in ready}
        for round_no in range(args.repeats + 1):
            order = ready[round_no % len(ready) :] + ready[: round_no % len(ready)] if ready else []
            log(
                f"[round {round_no}{' (warm-up)' if round_no == 0 else ''}] order: {', '.join(order)}"
            )
            for fw in order:
                startup_round(fw, startup_dirs[fw], rec, round_no)
            for fw in order:
                pipeline_round(fw, parent, rec, round_no)

    report = {
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "frameworks": frameworks,
        "repeats": args.repeats,
        "timeout": RUN_TIMEOUT,
        "installs": installs,
        "runs": rec.runs,
    }
    report["summary"] = summarize(rec, frameworks, installs)
    loads = [r["load_1min"] for r in rec.runs if not r["warmup"] and r.get("load_1min") is not None]
    report["load"] = (
        {"median": statistics.median(loads), "min": min(loads), "max": max(loads)}
        if loads
        else {"median": 0.0, "min": 0.0, "max": 0.0}
    )
    text = render(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
