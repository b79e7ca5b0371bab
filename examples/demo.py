"""The demo: run the quarterly pipeline on the embedded default stack and show what
headrace recorded — the run, the cache decisions, the model's lineage.

    scripts/demo            # sets up .venv, then runs this file
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headrace import Run

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    # A project home next to the example, like `headrace init` makes, unless one is set.
    if not os.environ.get("HEADRACE_HOME"):
        os.environ["HEADRACE_HOME"] = str(HERE.parent / ".headrace")

    from quarterly import quarterly_with_data_checks

    from headrace import Client

    print(f"headrace home: {os.environ['HEADRACE_HOME']}\n")
    run = quarterly_with_data_checks()
    print(f"run {run.id[:12]}  pipeline={run.pipeline}  status={run.status}  {run.duration:.2f}s")
    for step in run.steps.values():
        hit = "cache hit " if step.cache_hit else "ran       "
        outputs = ", ".join(f"{n} v{a.version}" for n, a in step.outputs.items())
        print(f"  {step.name:<18} {hit} {step.duration or 0:6.2f}s  -> {outputs}")
        if not step.cache_hit:
            print(f"  {'':<18} why: {step.cache_reason}")
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    print(f"\nQ4 metrics: {metrics}")
    print_data_checks(run)

    client = Client()
    model = client.artifact("model")
    upstream = client.lineage(model).upstream()
    print(f"\nlineage of model v{model.version} ({model.hash[:12]}):")
    for step_run in upstream.step_runs:
        inputs = (
            ", ".join(f"{n} v{a.version}" for n, a in step_run.inputs.items()) or "parameters only"
        )
        print(f"  {step_run.name:<18} <- {inputs}")
    env = run.environment
    git = env.get("git") or {}
    print(
        f"\nenvironment: Python {env['python']['version']} on {env['os']['system']}, "
        f"{len(env['packages'])} packages, git {str(git.get('commit', 'n/a'))[:10]}"
        f"{' (dirty)' if git.get('dirty') else ''}"
    )
    print(
        "\nTry next (the CLI is in .venv/bin):\n"
        "  scripts/demo                                          # again: every step is a cache hit\n"
        "  .venv/bin/headrace run examples/quarterly.py:quarterly_with_data_checks -p C=0.1\n"
        "                                                        # only fit and what uses the model rerun\n"
        "  .venv/bin/headrace runs show latest                   # the DAG, timings, why each step ran\n"
        "  .venv/bin/headrace lineage model                      # where the model came from\n"
        "  .venv/bin/headrace reproduce latest                   # rerun it and check bit-identical outputs\n"
        "  docs/concepts.md, docs/caching.md, docs/cli.md        # what just happened"
    )


def print_data_checks(run: Run) -> None:
    """The data-centric part: what the reports stored with this run say."""
    steps = run.steps
    validation = steps["validate_raw"].outputs["validation"].load()
    print(f"\nvalidation of raw data: {validation.verdict}")
    drift = steps["drift_q4"].outputs["drift"].load()
    drifted = ", ".join(drift.drifted_columns) or "none"
    print(
        f"Q4 against Q1-Q3: drift in {len(drift.drifted_columns)} of {len(drift.columns)} "
        f"columns ({drifted}); dataset verdict: {drift.verdict}"
    )
    backtest = steps["backtest_quarters"].outputs["backtest"].load()
    print("backtest, train on every quarter so far, test on the next:")
    for fold in backtest.folds:
        accuracy = fold.metrics.get("score")
        print(
            f"  test {fold.test_start[:10]}..{fold.test_end[:10]}  train rows {fold.n_train:>5}  "
            f"accuracy {accuracy:.3f}"
            if accuracy is not None
            else f"  fold {fold.index}: no score"
        )
    slices = steps["slices_by_region"].outputs["slices"].load()
    print(
        "Q4 accuracy by region: "
        + ", ".join(
            f"{s.name} {s.metrics.get('accuracy'):.3f} (n={s.count})" for s in slices.slices
        )
    )
    print(
        f"  gap in positive rate between regions (demographic parity): "
        f"{slices.demographic_parity_difference:.3f}"
    )


if __name__ == "__main__":
    main()
