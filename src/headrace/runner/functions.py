"""Find the Python function behind a step spec, in this process or a fresh one."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.errors import DefinitionError
from headrace.model.spec import FunctionRef


def resolve_function(ref: FunctionRef, *, step: str) -> Callable[..., Any]:
    """Import the module (or load the file of a script run as ``__main__``) and look up
    the qualname; a Step object resolves to the function it wraps."""
    module: Any = None
    if ref.module != "__main__":
        try:
            module = importlib.import_module(ref.module)
        except ImportError:
            module = None
    if module is None:
        module = _load_file(ref, step=step)
    target: Any = module
    for part in ref.qualname.split("."):
        if part == "<locals>":
            raise DefinitionError(
                f"function {ref.qualname} is defined inside another function and cannot be "
                "imported in another process; define steps at module level",
                step=step,
            )
        target = getattr(target, part, None)
        if target is None:
            raise DefinitionError(f"{ref.module}.{ref.qualname} not found", step=step)
    return getattr(target, "func", target)  # type: ignore[no-any-return]


def _load_file(ref: FunctionRef, *, step: str) -> Any:
    if not ref.file or not Path(ref.file).is_file():
        raise DefinitionError(
            f"cannot import module '{ref.module}' and its file {ref.file!r} does not exist",
            step=step,
        )
    # A stable alias, so that loading the same script twice reuses one module, and the
    # script's `if __name__ == "__main__":` block does not run again.
    alias = "headrace_script_" + hashlib.sha256(ref.file.encode()).hexdigest()[:12]
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(alias, ref.file)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot load {ref.file}", step=step)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise
    return module
