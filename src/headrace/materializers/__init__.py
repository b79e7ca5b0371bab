"""Materializers turn Python objects into files and back.

A step's outputs are saved by the materializer :func:`select` picks for their runtime
type, and an artifact is loaded by the one whose ``name`` was recorded with it::

    m = select(value)                          # by type, most specific class first
    metadata = save(value, folder, m)          # {"type": ..., "materializer": ..., ...}
    value = load(folder, m.name, metadata["type"])

Built-in materializers, by recorded name:

=============  ==============================================  ==========================
name           values                                          files
=============  ==============================================  ==========================
json           None, bool, int, float, str, list, tuple, dict  data.json
bytes          bytes, bytearray                                data.bin
html           :class:`HTMLString`                             index.html
markdown       :class:`MarkdownString`                         README.md
numpy          numpy arrays and scalars (no object dtype)      array.npy
pandas         pandas DataFrame, Series                        data.parquet
arrow          pyarrow Table                                   data.parquet
sklearn        scikit-learn estimators (skops or joblib)       model.skops / model.joblib
matplotlib     matplotlib Figure (loads as :class:`PNGImage`)  figure.png
pydantic       pydantic models                                 model.json
dataclass      dataclasses with JSON-able fields               data.json
pickle         anything picklable; opt-in only                 data.pkl
=============  ==============================================  ==========================

Heavy libraries are imported only when a value of theirs is saved or loaded. Another
package adds materializers through the ``headrace.materializers`` entry-point group
(entry name: the qualified type name, value: ``"module:Class"``), or code calls
:func:`register`. A materializer is any class with a ``name`` and ``save``/``load``
(see :class:`Materializer`); it may also define ``unsupported_reason(obj)`` to decline
values it cannot store faithfully, so that selection moves on to the next candidate.

Pickle is never chosen unless a step opts in (``allow_pickle=True``) or names it:
unpickling runs code, so a pickled artifact is only as safe as the store it came from.
"""

from __future__ import annotations

from headrace.materializers._boundary import load, save
from headrace.materializers._matplotlib import PNGImage
from headrace.materializers._registry import (
    apply_registrations,
    get,
    register,
    registrations,
    select,
    type_name,
)
from headrace.materializers._text import HTMLString, MarkdownString
from headrace.materializers.base import Materializer

__all__ = [
    "HTMLString",
    "MarkdownString",
    "Materializer",
    "PNGImage",
    "apply_registrations",
    "get",
    "load",
    "register",
    "registrations",
    "save",
    "select",
    "type_name",
]
