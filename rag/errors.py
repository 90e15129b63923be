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


class ModelBusyError(RagError):
    """The model was not free, or gave no word, within a bound: the question ends with this message rather
    than waiting for ever; the model stays on for the next question."""

    def __init__(self, seconds: float, what: str = "busy") -> None:
        self.seconds = seconds
        if what == "silent":
            super().__init__(f"语言模型 {seconds:g} 秒没有输出，这个问题已结束，请再问一次。"
                             f"(The model gave no word for {seconds:g} s: please ask again.)")
        else:
            super().__init__(f"语言模型忙，等待超过 {seconds:g} 秒，请稍后再问。"
                             f"(The model was busy for over {seconds:g} s: please ask again later.)")


class MissingPackageError(RagError):
    """An optional package is not installed; the message names the pip command."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the package '{package}': run  pip install {package}")
