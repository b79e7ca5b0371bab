"""The demo: run the quarterly pipeline on the embedded default stack and show what
headrace recorded — the run, the cache decisions, the model's lineage.

    scripts/demo            # sets up .venv, then runs this file
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    # A project home next to the example, like `headrace init` makes, unless one is set.
    if not os.environ.get("HEADRACE_HOME"):
        os.environ["HEADRACE_HOME"] = str(HERE.parent / ".headrace")

    from quarterly import quarterly

    from headrace import Client

    print(f"headrace home: {os.environ['HEADRACE_HOME']}\n")
    run = quarterly()
    print(f"run {run.id[:12]}  pipeline={run.pipeline}  status={run.status}  {run.duration:.2f}s")
    for step in run.steps.values():
        hit = "cache hit " if step.cache_hit else "ran       "
        outputs = ", ".join(f"{n} v{a.version}" for n, a in step.outputs.items())
        print(f"  {step.name:<18} {hit} {step.duration or 0:6.2f}s  -> {outputs}")
        if not step.cache_hit:
            print(f"  {'':<18} why: {step.cache_reason}")
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    print(f"\nQ4 metrics: {metrics}")

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
        "  .venv/bin/headrace run examples/quarterly.py:quarterly -p C=0.1   # only fit and evaluate rerun\n"
        "  .venv/bin/headrace runs show latest                   # the DAG, timings, why each step ran\n"
        "  .venv/bin/headrace lineage model                      # where the model came from\n"
        "  .venv/bin/headrace reproduce latest                   # rerun it and check bit-identical outputs\n"
        "  docs/concepts.md, docs/caching.md, docs/cli.md        # what just happened"
    )


if __name__ == "__main__":
    main()
