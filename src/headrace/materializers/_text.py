"""``html`` and ``markdown``: strings stored as a page (``index.html``, ``README.md``) that a
notebook renders instead of quoting, and that a browser or viewer opens as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class HTMLString(str):
    """A str holding an HTML document or fragment; stored as ``index.html``.

    Return one from a step (``-> HTMLString``) to get a report: a notebook displays the
    loaded value as a page, and ``headrace artifacts load NAME DIR`` writes the file.
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)


class MarkdownString(str):
    """A str holding Markdown; stored as ``README.md``, rendered by a notebook."""

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return str(self)


# Recorded type names (and pickles) use the public module, not this private one.
HTMLString.__module__ = "headrace.materializers"
MarkdownString.__module__ = "headrace.materializers"


class _TextMaterializer:
    file: ClassVar[str]
    kind: ClassVar[type[str]]

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        if not isinstance(obj, str):
            raise TypeError(f"expected a str, got {type(obj).__name__}")
        (folder / self.file).write_text(str(obj), encoding="utf-8", errors="surrogatepass")
        return {"length": len(obj)}

    def load(self, folder: Path, type_name: str) -> Any:
        return self.kind((folder / self.file).read_text(encoding="utf-8", errors="surrogatepass"))


class HTMLMaterializer(_TextMaterializer):
    """Writes ``index.html`` (UTF-8); loads an :class:`HTMLString`."""

    name: ClassVar[str] = "html"
    file: ClassVar[str] = "index.html"
    kind: ClassVar[type[str]] = HTMLString


class MarkdownMaterializer(_TextMaterializer):
    """Writes ``README.md`` (UTF-8); loads a :class:`MarkdownString`."""

    name: ClassVar[str] = "markdown"
    file: ClassVar[str] = "README.md"
    kind: ClassVar[type[str]] = MarkdownString
