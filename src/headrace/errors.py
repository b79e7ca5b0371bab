"""The exceptions headrace raises.

Every error derives from :class:`HeadraceError`, and where a builtin fits it is a
second base, so ``except KeyError`` keeps working for lookups::

    HeadraceError
    ├── DefinitionError            a step or pipeline is defined or wired wrongly (nothing ran)
    ├── ConfigError(ValueError)    a run config, option or setting is invalid
    ├── StepError                  a step failed at run time; the user's exception is __cause__
    ├── TypeMismatchError(TypeError)  a step's input or output is not of its declared type
    ├── MaterializerError          no materializer for a value, or it could not save/load it
    ├── StoreError                 the metadata or artifact store cannot do what was asked
    │   ├── ArtifactNotFoundError(KeyError)
    │   ├── RunNotFoundError(KeyError)
    │   ├── ModelNotFoundError(KeyError)  no such model, model version or alias
    │   ├── StackNotFoundError(KeyError)  no stack of that name
    │   ├── ArtifactCorruptedError stored bytes do not match their content hash
    │   ├── UnsafePathError(ValueError)  a key or URI would leave the store root
    │   └── SchemaVersionError     the store was written by a newer headrace
    └── MissingExtraError(ImportError)   an optional dependency is not installed
"""

from __future__ import annotations


class HeadraceError(Exception):
    """Root of every error headrace raises on purpose."""


class DefinitionError(HeadraceError):
    """A step or pipeline definition is invalid; raised before anything runs or is written."""

    def __init__(self, message: str, *, step: str | None = None) -> None:
        self.step = step
        super().__init__(f"step '{step}': {message}" if step else message)


class ConfigError(HeadraceError, ValueError):
    """A run configuration, option or setting is invalid."""


class StepError(HeadraceError):
    """A step failed while running. The user's exception is ``__cause__``."""

    def __init__(self, message: str, *, step: str, run_id: str | None = None) -> None:
        self.step = step
        self.run_id = run_id
        where = f"step '{step}'" + (f" of run {run_id}" if run_id else "")
        super().__init__(f"{where} failed: {message}")


class TypeMismatchError(HeadraceError, TypeError):
    """A step input or output does not match the type its annotation declares."""


class MaterializerError(HeadraceError):
    """A value could not be written or read by any materializer."""


class StoreError(HeadraceError):
    """The metadata store or artifact store could not complete an operation."""


class ArtifactNotFoundError(StoreError, KeyError):
    """No artifact (version) matches the request."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class RunNotFoundError(StoreError, KeyError):
    """No run matches the given id, prefix or alias."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ModelNotFoundError(StoreError, KeyError):
    """No model, model version or alias matches the request."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StackNotFoundError(StoreError, KeyError):
    """No stack of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ArtifactCorruptedError(StoreError):
    """Stored artifact bytes do not match the content hash recorded for them."""


class UnsafePathError(StoreError, ValueError):
    """A key, name or URI would resolve outside the store root."""


class SchemaVersionError(StoreError):
    """The metadata store's schema is newer than this headrace understands."""


class MissingExtraError(HeadraceError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, *, purpose: str = "") -> None:
        self.package = package
        self.extra = extra
        why = f" for {purpose}" if purpose else ""
        super().__init__(
            f"'{package}' is needed{why} but is not installed: pip install 'headrace[{extra}]'"
        )
