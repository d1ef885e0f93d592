"""What the three kinds share: the plugin object of this instance, built on
first use, and the checks of what is handed back to the host."""

from __future__ import annotations

from typing import Callable, Generic, Optional, TypeVar

from wit_world.imports import types

import dataclasses

from . import PluginInfo
from .config import schema
from .errors import check_list, check_type

P = TypeVar("P")


class Instance(Generic[P]):
    """The plugin object, built by `cls()` on the first call that needs it
    (the config and secrets are readable then). A failed build is returned
    to the host and tried again on the next call, as in the Rust SDK."""

    def __init__(self, cls: Callable[[], P]) -> None:
        self.cls = cls
        self.plugin: Optional[P] = None

    def get(self) -> P:
        if self.plugin is None:
            self.plugin = self.cls()
        return self.plugin


def info_of(cls: type, base: type) -> PluginInfo:
    """Checked when the component is built (componentize-py imports the app
    then), so a missing `info` fails the build, not a run."""
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise TypeError(f"export() takes a subclass of hrsync_sdk {base.__name__}, not {cls!r}")
    info = getattr(cls, "info", None)
    if not isinstance(info, PluginInfo):
        raise TypeError(f"{cls.__name__}.info must be a PluginInfo(name=..., version=...), not {info!r}")
    if info.config is not None and not (isinstance(info.config, type) and dataclasses.is_dataclass(info.config)):
        raise TypeError(f"{cls.__name__}.info: PluginInfo(config=...) must be a @dataclass class, not {info.config!r}")
    # The schema is built now, so a config field of a type it cannot say
    # fails the build, naming the field.
    schema(info.config)
    return info


def checked_employees(employees: object, what: str) -> None:
    check_list(employees, types.Employee, what)
    assert isinstance(employees, list)
    for index, employee in enumerate(employees):
        check_type(employee.status, types.EmployeeStatus, f"{what}[{index}].status")
        check_list(employee.custom, types.Attribute, f"{what}[{index}].custom")
