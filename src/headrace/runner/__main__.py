"""Run one step in this process from a JSON task: ``python -m headrace.runner TASK.json``
(or ``-`` for standard input). Prints the step result as JSON.

The task holds ``spec`` (PipelineSpec.to_dict()), ``step``, ``settings``
(StoreSettings.to_dict()), ``run_id`` and ``inputs`` (input name -> artifact version id).
This is how a subprocess or a remote worker runs a step: the spec is all it needs.
"""

from __future__ import annotations

import json
import sys

from headrace.errors import HeadraceError
from headrace.home import StoreSettings
from headrace.model.spec import PipelineSpec
from headrace.runner.step_runner import run_step


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m headrace.runner TASK.json|-", file=sys.stderr)
        return 2
    if argv[0] == "-":
        text = sys.stdin.read()
    else:
        with open(argv[0], encoding="utf-8") as handle:
            text = handle.read()
    task = json.loads(text)
    try:
        result = run_step(
            PipelineSpec.from_dict(task["spec"]),
            task["step"],
            StoreSettings.from_dict(task["settings"]),
            task["run_id"],
            task["inputs"],
            step_run_id=task.get("step_run_id"),
        )
    except HeadraceError as exc:
        print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        return 1
    print(
        json.dumps(
            {
                "step_run_id": result.step_run_id,
                "cache_hit": result.cache_hit,
                "outputs": result.outputs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
