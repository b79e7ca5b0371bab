"""Find the Python function behind a step spec, in this process or a fresh one."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from headrace.errors import DefinitionError, HeadraceError
from headrace.spec.types import FunctionRef


def resolve_function(ref: FunctionRef, *, step: str) -> Callable[..., Any]:
    """Import the module (or load the file of a script run as ``__main__``) and look up
    the qualname; a Step object resolves to the function it wraps."""
    module: Any = None
    if ref.module != "__main__":
        try:
            module = importlib.import_module(ref.module)
        except ImportError:
            module = None
    if module is None and ref.source is not None and not (ref.file and Path(ref.file).is_file()):
        missing = _not_captured(ref.source)
        if missing:
            raise DefinitionError(
                f"{ref.qualname} was defined in a notebook and uses {', '.join(missing)}, "
                "which could not be captured with its code, so it cannot run in another "
                "process: pass such values as step inputs or parameters",
                step=step,
            )
        try:
            module = load_source(ref.source)
        except DefinitionError as exc:
            raise DefinitionError(str(exc), step=step) from exc.__cause__
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
    try:
        return load_script(ref.file)
    except DefinitionError as exc:
        raise DefinitionError(str(exc), step=step) from exc.__cause__


def load_source(text: str) -> ModuleType:
    """The module a captured source (a step or pipeline defined in a notebook cell, see
    ``headrace.pipelines._capture``) defines, built once per process and text.

    Its name and its pseudo file name derive from the text's hash, and the text goes into
    :mod:`linecache`, so ``inspect.getsource`` (and with it the code fingerprint and a
    later capture) reads the very same definitions.
    """
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    alias = f"headrace_cell_{digest}"
    if alias in sys.modules:
        return sys.modules[alias]
    filename = f"<headrace-cell-{digest}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = ModuleType(alias)
    module.__file__ = filename
    sys.modules[alias] = module
    try:
        # dont_inherit: this module's own `from __future__ import annotations` must not
        # leak into the user's code (its annotations would become strings).
        exec(compile(text, filename, "exec", dont_inherit=True), module.__dict__)
    except BaseException as exc:
        del sys.modules[alias]
        if isinstance(exc, HeadraceError) or not isinstance(exc, Exception):
            raise
        missing = _not_captured(text)
        hint = f"; not captured from the session: {', '.join(missing)}" if missing else ""
        where = _error_location(exc, filename)
        raise DefinitionError(
            f"rebuilding the notebook code of this step failed{where}: "
            f"{type(exc).__name__}: {exc}{hint}"
        ) from exc
    return module


def _not_captured(text: str) -> list[str]:
    """The names a captured source lists as not captured (see pipelines._capture)."""
    prefix = "# not captured: "
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


def load_script(file: str | Path) -> ModuleType:
    """Import a Python file as a module, as ``python FILE`` would see its folder.

    The module gets a stable name derived from the file's absolute path (so ``headrace
    run`` and a step process loading the same file agree on it), so its
    ``if __name__ == "__main__":`` block does not run and loading it twice reuses it.
    An exception raised while importing becomes a DefinitionError naming the file.
    """
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise DefinitionError(f"file {str(file)!r} does not exist")
    location = str(path)
    alias = "headrace_script_" + hashlib.sha256(location.encode()).hexdigest()[:12]
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(alias, location)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot import {file}: not a Python file")
    folder = str(path.parent)
    if folder not in sys.path:
        # Like `python FILE`: the script's folder comes first, so sibling modules import.
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[alias]
        if isinstance(exc, HeadraceError) or not isinstance(exc, Exception):
            raise
        where = _error_location(exc, location)
        raise DefinitionError(
            f"importing {file} failed{where}: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _error_location(exc: BaseException, location: str) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" at line {exc.lineno}"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == location:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" at line {line}" if line else ""
