"""The typed errors of a plugin function, as Python exceptions, and the guard
that turns any exception into one of them.

Raise `Unauthorized("token revoked")`, `InvalidInput("department", "must be
text")`, ... anywhere in a plugin; the base classes hand them to the host as
the WIT `plugin-error` they name. Any other exception that escapes — a
`KeyError`, a `TypeError` — becomes a `fatal` error naming the exception's
type, message and the lines of your code it came through:
`KeyError: 'identifier' (app.py line 201, in list_employees)`; the whole
traceback is printed, which the host keeps in the plugin's debug log.
"""

from __future__ import annotations

import sys
import traceback
from typing import Callable, List, Optional, Tuple, TypeVar, Union

from componentize_py_types import Err
from wit_world.imports import types

# Frames of these files are the SDK's and the runtime's, not the author's.
_LIBRARY_PARTS = ("hrsync_sdk", "wit_world", "componentize_py", "/python3.", "<frozen")
# How many of the author's frames an error names, innermost first.
_FRAMES_SHOWN = 3


class PluginError(Exception):
    """A typed plugin error; use one of the subclasses."""

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Fatal(str(self))


class Retryable(PluginError):
    """Try again later (timeouts, 5xx)."""

    def __init__(self, message: str, retry_after_ms: Optional[int] = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Retryable(types.RetryHint(str(self), self.retry_after_ms))


class RateLimited(PluginError):
    """Too many requests; the host waits `retry_after_ms` when given."""

    def __init__(self, message: str, retry_after_ms: Optional[int] = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms

    def to_wit(self) -> types.PluginError:
        return types.PluginError_RateLimited(types.RetryHint(str(self), self.retry_after_ms))


class Conflict(PluginError):
    """The record already exists (with its id, when the API says)."""

    def __init__(self, message: str, existing_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Conflict(types.Conflict(str(self), self.existing_id))


class NotFound(PluginError):
    def to_wit(self) -> types.PluginError:
        return types.PluginError_NotFound(str(self))


class InvalidInput(PluginError):
    """A value that cannot be used, naming its field (`config.base_url`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_wit(self) -> types.PluginError:
        return types.PluginError_InvalidInput(types.InvalidField(self.field, self.message))


class Unauthorized(PluginError):
    """Credentials missing, wrong or revoked."""

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Unauthorized(str(self))


class Unsupported(PluginError):
    """The plugin does not offer this function."""

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Unsupported(str(self))


class Fatal(PluginError):
    """Stop: retrying will not help."""

    def to_wit(self) -> types.PluginError:
        return types.PluginError_Fatal(str(self))


def describe_exception(error: BaseException) -> str:
    """`KeyError: 'identifier' (app.py line 201, in list_employees)`: the
    exception's type and message, and the innermost frames of the plugin's
    own code it came through."""
    frames = traceback.extract_tb(error.__traceback__)
    # Only the author's frames: an error the SDK raises about what the
    # plugin returned has none worth naming (the traceback in the debug
    # log has them all).
    own = [f for f in frames if not any(part in f.filename for part in _LIBRARY_PARTS)]
    shown = list(reversed(own))[:_FRAMES_SHOWN]
    places = "; ".join(f"{_script_name(f.filename)} line {f.lineno}, in {f.name}" for f in shown)
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return f"{text} ({places})" if places else text


def _script_name(filename: str) -> str:
    # componentize-py names files by their place on the Python path
    # (`/0/app.py`); the number says nothing to the author.
    parts = filename.lstrip("/").split("/", 1)
    if len(parts) == 2 and parts[0].isdigit():
        return parts[1]
    return filename


def as_wit_error(error: BaseException) -> types.PluginError:
    """The WIT error an exception means; prints the traceback of one that is
    not a typed error (the host keeps it in the plugin's debug log)."""
    if isinstance(error, Err):
        value: types.PluginError = error.value
        return value
    if isinstance(error, PluginError):
        return error.to_wit()
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return types.PluginError_Fatal(describe_exception(error))


R = TypeVar("R")


def guarded(call: Callable[[], R]) -> R:
    """Runs `call`; any exception leaves as `Err(plugin-error)`, which
    componentize-py returns to the host as the function's error."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 — every exception is reported, typed
        raise Err(as_wit_error(error)) from None


def check_type(value: object, expected: Union[type, Tuple[type, ...]], what: str) -> None:
    """A value handed to the host must be of the generated type: a dict or a
    string where a record or enum belongs is named here, with what it was,
    instead of failing while it is handed over."""
    if not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in expected) if isinstance(expected, tuple) else expected.__name__
        raise TypeError(f"{what} must be {names}, not {type(value).__name__} {_short(value)}")


def check_list(values: object, expected: type, what: str) -> None:
    if not isinstance(values, list):
        raise TypeError(f"{what} must be a list of {expected.__name__}, not {type(values).__name__}")
    for index, value in enumerate(values):
        check_type(value, expected, f"{what}[{index}]")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__: List[str] = [
    "PluginError",
    "Retryable",
    "RateLimited",
    "Conflict",
    "NotFound",
    "InvalidInput",
    "Unauthorized",
    "Unsupported",
    "Fatal",
    "describe_exception",
    "guarded",
]
