"""``pickle``: any picklable value; the last resort, only when asked for."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pickle
from pathlib import Path
from typing import Any, ClassVar

FILE = "data.pkl"
PROTOCOL = 5

log = logging.getLogger("headrace")


class PickleMaterializer:
    """Writes ``data.pkl`` with cloudpickle if it is installed (it also handles lambdas
    and classes defined in notebooks), else with the standard pickle module.

    **Unpickling runs code** named in the file: load pickled artifacts only from a store
    you trust. headrace chooses this materializer only for a step that opts in with
    ``allow_pickle=True`` or names it explicitly, and records ``"pickle": true``.
    """

    name: ClassVar[str] = "pickle"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        cls = type(obj)
        log.warning(
            "storing a %s.%s with pickle: loading it later runs code from the file, so load "
            "it only from a store you trust",
            cls.__module__,
            cls.__qualname__,
        )
        if importlib.util.find_spec("cloudpickle") is not None:
            pickler = "cloudpickle"
            dumps = importlib.import_module("cloudpickle").dumps
        else:
            pickler = "pickle"
            dumps = pickle.dumps
        data: bytes = dumps(obj, protocol=PROTOCOL)
        (folder / FILE).write_bytes(data)
        return {"pickle": True, "pickler": pickler, "protocol": PROTOCOL, "size": len(data)}

    def load(self, folder: Path, type_name: str) -> Any:
        log.info("unpickling a %s: this runs code from the file", type_name)
        # From bytes, not a file: a damaged length field then fails on the buffer's end
        # instead of asking the file for that many bytes.
        return pickle.loads((folder / FILE).read_bytes())
