"""The installation's config as a dataclass, its JSON Schema, and secrets.

    @dataclass
    class Config:
        base_url: str = field(metadata={"description": "e.g. https://api.hibob.com"})
        page_size: int = 100
        departments: List[str] = field(default_factory=list)

    settings = config(Config)    # raises InvalidInput naming the field

The same dataclass gives the manifest's config schema (`schema(Config)`,
which the base classes call for `PluginInfo(config=Config)`), so the host
refuses a wrong config before the plugin runs and the admin's form shows
the fields with their descriptions.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Dict, List, Literal, Optional, Type, TypeVar, Union, get_args, get_origin

from wit_world.imports import config as _wit

from .errors import Fatal, InvalidInput, Unauthorized

C = TypeVar("C")


def raw() -> Dict[str, Any]:
    """The installation's config as parsed JSON."""
    value = json.loads(_wit.get_config())
    if not isinstance(value, dict):
        raise InvalidInput("config", "must be an object")
    return value


def config(cls: Type[C]) -> C:
    """The installation's config, checked into `cls` (a dataclass): a missing
    required field, a value of the wrong type or an unknown field raises
    `InvalidInput` naming the field."""
    return load(cls, raw())


def load(cls: Type[C], values: Dict[str, Any]) -> C:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"config() takes a dataclass, not {cls!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in fields:
            raise InvalidInput(name, f"unknown field; the config has {', '.join(sorted(fields)) or 'no fields'}")
    arguments: Dict[str, Any] = {}
    for name, f in fields.items():
        if name in values:
            arguments[name] = _checked(name, values[name], hints[name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if _optional(hints[name]):
                arguments[name] = None
            else:
                raise InvalidInput(name, "is required")
    return cls(**arguments)


def schema(cls: Optional[type]) -> Dict[str, Any]:
    """The JSON Schema of a config dataclass (an empty object without one)."""
    if cls is None:
        return {"type": "object", "additionalProperties": False, "properties": {}}
    hints = typing.get_type_hints(cls)
    properties: Dict[str, Any] = {}
    required: List[str] = []
    for f in dataclasses.fields(cls):
        try:
            prop = _schema_of(hints[f.name])
        except TypeError as error:
            raise TypeError(f"config field `{f.name}`: {error}") from None
        description = f.metadata.get("description")
        if description:
            prop["description"] = description
        if f.default is not dataclasses.MISSING:
            prop["default"] = f.default
        elif f.default_factory is dataclasses.MISSING and not _optional(hints[f.name]):
            required.append(f.name)
        properties[f.name] = prop
    document: Dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        document["required"] = required
    return document


def secret(name: str) -> str:
    """A secret the manifest declares. Never log it or put it in an error.
    Not supplied by the admin: `Unauthorized`; not declared: `Fatal`."""
    try:
        return _wit.get_secret(name)
    except Exception as error:  # componentize_py_types.Err(SecretError)
        value = getattr(error, "value", None)
        if isinstance(value, _wit.SecretError_Missing):
            raise Unauthorized(value.value) from None
        if isinstance(value, _wit.SecretError_Undeclared):
            raise Fatal(value.value) from None
        raise


def _optional(hint: Any) -> bool:
    return get_origin(hint) is Union and type(None) in get_args(hint)


def _schema_of(hint: Any) -> Dict[str, Any]:
    origin = get_origin(hint)
    if _optional(hint):
        # null is a value of an Optional field, as `config()` takes it.
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            return {}
        schema = _schema_of(inner[0])
        if isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        elif "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (list, List):
        (item,) = get_args(hint) or (Any,)
        return {"type": "array", "items": _schema_of(item)}
    if origin in (dict, Dict):
        return {"type": "object"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if hint in simple:
        return {"type": simple[hint]}
    if hint is Any:
        return {}
    raise TypeError(
        f"{hint!r} cannot be checked; use str, int, float, bool, Literal[...], List[...], Dict[str, ...] or Optional[...]"
    )


def _checked(name: str, value: Any, hint: Any) -> Any:
    if _optional(hint):
        if value is None:
            return None
        inner = [a for a in get_args(hint) if a is not type(None)]
        return _checked(name, value, inner[0]) if len(inner) == 1 else value
    origin = get_origin(hint)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise InvalidInput(name, f"must be one of {', '.join(map(repr, allowed))}, not {value!r}")
        return value
    if origin in (list, List):
        if not isinstance(value, list):
            raise InvalidInput(name, f"must be a list, not {type(value).__name__}")
        (item,) = get_args(hint) or (Any,)
        return [_checked(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            raise InvalidInput(name, f"must be an object, not {type(value).__name__}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidInput(name, f"must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(name, f"must be a whole number, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(name, f"must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InvalidInput(name, f"must be text, not {value!r}")
        return value
    return value
