"""``sklearn``: scikit-learn estimators, with skops where it can, else joblib (pickle)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any, ClassVar

from headrace.errors import MaterializerError
from headrace.materializers import _json_codec as codec
from headrace.materializers._imports import require

SKOPS_FILE = "model.skops"
JOBLIB_FILE = "model.joblib"

log = logging.getLogger("headrace")


class SklearnMaterializer:
    """Stores any estimator (anything with ``sklearn.base.BaseEstimator`` in its MRO).

    If `skops <https://skops.readthedocs.io>`_ is installed and every type inside the
    estimator is one skops trusts by default, the model is written as ``model.skops``,
    which loads without running arbitrary code. Otherwise it is written with joblib as
    ``model.joblib``: joblib is pickle, so **loading it runs code** — load such artifacts
    only from a store you trust. The metadata says which (``format``, ``pickle_based``).
    """

    name: ClassVar[str] = "sklearn"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        require("sklearn", package="scikit-learn", extra="ml", purpose="scikit-learn models")
        data = _skops_bytes(obj)
        if data is not None:
            (folder / SKOPS_FILE).write_bytes(data)
            fmt = "skops"
        else:
            joblib = require("joblib", package="joblib", extra="ml", purpose="scikit-learn models")
            joblib.dump(obj, folder / JOBLIB_FILE)
            fmt = "joblib"
        return _describe(obj) | {"format": fmt, "pickle_based": fmt == "joblib"}

    def load(self, folder: Path, type_name: str) -> Any:
        if (folder / SKOPS_FILE).exists():
            sio = require("skops.io", package="skops", extra="ml", purpose="skops model files")
            path = folder / SKOPS_FILE
            untrusted = sio.get_untrusted_types(file=path)
            if untrusted:
                raise MaterializerError(
                    f"{path} contains types skops does not trust ({', '.join(untrusted)}); "
                    "refusing to load them"
                )
            return sio.load(path)
        joblib = require("joblib", package="joblib", extra="ml", purpose="scikit-learn models")
        log.info("loading %s with joblib (pickle): this runs code from the file", type_name)
        return joblib.load(folder / JOBLIB_FILE)


def _skops_bytes(obj: Any) -> bytes | None:
    """The skops serialization of ``obj`` if skops is installed and would load it back
    with its default trust, else None."""
    if importlib.util.find_spec("skops") is None:
        return None
    sio = importlib.import_module("skops.io")
    try:
        data: bytes = sio.dumps(obj)
        if sio.get_untrusted_types(data=data):
            return None
    except Exception as exc:
        log.debug("skops cannot store %s (%s); using joblib", type(obj).__name__, exc)
        return None
    return data


def _describe(obj: Any) -> dict[str, Any]:
    import sklearn

    params: dict[str, Any] = {}
    try:
        for key, value in obj.get_params(deep=True).items():
            if codec.is_json(value):
                params[str(key)] = codec.json_safe(value)
    except Exception as exc:  # a custom estimator may break get_params
        log.debug("get_params() of %s failed: %s", type(obj).__name__, exc)
    return {
        "estimator": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "params": params,
        "fitted": _is_fitted(obj),
        "sklearn_version": str(sklearn.__version__),
    }


def _is_fitted(obj: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except NotFittedError:
        return False
    except Exception:
        return False
    return True
