"""``matplotlib``: figures as PNG images."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, ClassVar

from headrace.materializers._imports import require

FILE = "figure.png"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PNGImage(bytes):
    """The bytes of a PNG image: what a stored matplotlib figure loads as.

    A figure cannot be rebuilt from its pixels, so loading gives the image: use it as
    ``bytes`` (write it to a file, send it over HTTP), decode it into an RGBA array with
    :meth:`to_array`, or let Jupyter display it.
    """

    __slots__ = ()

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, read from the PNG header."""
        return png_size(self)

    def to_array(self) -> Any:
        """The pixels as a float array of shape (height, width, 4), values in [0, 1]."""
        image = require("matplotlib.image", package="matplotlib", extra="ml", purpose="images")
        return image.imread(io.BytesIO(self), format="png")

    def __repr__(self) -> str:
        try:
            width, height = png_size(self)
        except ValueError:
            return f"PNGImage(<not a PNG>, {len(self)} bytes)"
        return f"PNGImage({width}x{height}, {len(self)} bytes)"

    def _repr_png_(self) -> bytes:
        return bytes(self)


PNGImage.__module__ = "headrace.materializers"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG; ValueError if ``data`` does not start like one."""
    if len(data) < 24 or not data.startswith(_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class MatplotlibMaterializer:
    """Writes a ``matplotlib.figure.Figure`` (or a :class:`PNGImage`) to ``figure.png``
    at the figure's own dpi. Loading returns a :class:`PNGImage` and needs no matplotlib."""

    name: ClassVar[str] = "matplotlib"

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        path = folder / FILE
        if isinstance(obj, PNGImage):
            png_size(obj)
            path.write_bytes(bytes(obj))
            dpi = None
        else:
            require("matplotlib", package="matplotlib", extra="ml", purpose="figures")
            dpi = float(obj.get_dpi())
            obj.savefig(path, format="png", dpi=dpi)
        width, height = png_size(path.read_bytes()[:24])
        metadata: dict[str, Any] = {"format": "png", "width": width, "height": height}
        if dpi is not None:
            metadata["dpi"] = dpi
            metadata["axes"] = len(obj.get_axes())
        return metadata

    def load(self, folder: Path, type_name: str) -> Any:
        data = (folder / FILE).read_bytes()
        png_size(data)
        return PNGImage(data)
