"""The errors a user should see; the CLI and UI turn exactly these into friendly messages."""
from __future__ import annotations


class RagError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ConfigError(RagError):
    """A setting has a value the program cannot use."""


class InputError(RagError):
    """A question or a file the program cannot take as it is."""


class IndexMissingError(RagError):
    """No index has been built yet in the folder asked for."""


class IndexMismatchError(RagError):
    """The index was built with another model or format, or its files are damaged."""


class IndexBuildError(RagError):
    """A new index could not be written; the previous one stays live."""


class ModelError(RagError):
    """A model could not be provisioned or loaded."""


class MissingPackageError(RagError):
    """An optional package is not installed; the message names the pip command."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the package '{package}': run  pip install {package}")
