"""hrsync-sdk for Python: write hrsync source, target and rule plugins with
componentize-py.

    from hrsync_sdk import PluginInfo, http, secret
    from hrsync_sdk.source import Source, export

    class HiBob(Source):
        info = PluginInfo(name="hibob", version="1.0.0", config=Config, secrets=[...], hosts=[...])
        def list_employees(self, page, page_size): ...

    SourceApi = export(HiBob)

Import `hrsync_sdk.source`, `hrsync_sdk.target` or `hrsync_sdk.rule` for
the kind you build (only that one exists in its world's bindings). The
records are the generated WIT types (`wit_world.imports.types`,
re-exported here as `types`), so mypy checks field names and enum values
against wit/; `employee()`, `account()` and `team()` build them with the
optional fields left out. sdk/README.md has the whole guide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

from wit_world.imports import clock as _clock
from wit_world.imports import fields as _fields
from wit_world.imports import types

from . import http, log
from .config import config, raw, schema, secret
from .errors import (
    Conflict,
    Fatal,
    InvalidInput,
    NotFound,
    PluginError,
    RateLimited,
    Retryable,
    Unauthorized,
    Unsupported,
    describe_exception,
)

__version__ = "1.2.0"

Secret = Union[types.SecretSpec, Tuple[str, str], Tuple[str, str, bool]]


@dataclass
class PluginInfo:
    """What `describe` returns: `name` in lowercase letters, digits and `-`;
    `version` semver; `config` the config dataclass (its schema is the
    manifest's); `secrets` as `("token", "API token")` (required) or
    `("token", "API token", False)`; `hosts` the origins the plugin asks
    to reach, `https://api.example.com`."""

    name: str
    version: str
    description: str = ""
    config: Optional[type] = None
    secrets: Sequence[Secret] = field(default_factory=list)
    hosts: Sequence[str] = field(default_factory=list)

    def manifest(self, kind: types.PluginKind) -> types.Manifest:
        secrets: List[types.SecretSpec] = []
        for spec in self.secrets:
            if isinstance(spec, types.SecretSpec):
                secrets.append(spec)
            elif len(spec) == 3:
                secrets.append(types.SecretSpec(spec[0], spec[1], spec[2]))
            else:
                secrets.append(types.SecretSpec(spec[0], spec[1], True))
        return types.Manifest(
            name=self.name,
            version=self.version,
            kind=kind,
            description=self.description,
            config_schema=json.dumps(schema(self.config)),
            secrets=secrets,
            requested_hosts=list(self.hosts),
        )


def employee(
    hr_id: str,
    first_name: str,
    last_name: str,
    *,
    email: Optional[str] = None,
    status: types.EmployeeStatus = types.EmployeeStatus.ACTIVE,
    preferred_name: Optional[str] = None,
    employment_type: Optional[str] = None,
    job_title: Optional[str] = None,
    department: Optional[str] = None,
    team: Optional[str] = None,
    office: Optional[str] = None,
    supervisor: Optional[types.PersonRef] = None,
    hire_date: Optional[str] = None,
    termination_date: Optional[str] = None,
    gender: Optional[str] = None,
    language: Optional[str] = None,
    custom: Optional[List[types.Attribute]] = None,
) -> types.Employee:
    """An employee with the fields you have; dates are `YYYY-MM-DD`."""
    if not isinstance(status, types.EmployeeStatus):
        raise TypeError(f"status must be an EmployeeStatus (types.EmployeeStatus.ACTIVE, ...), not {status!r}")
    return types.Employee(
        hr_id=str(hr_id),
        email=email,
        first_name=first_name,
        last_name=last_name,
        preferred_name=preferred_name,
        status=status,
        employment_type=employment_type,
        job_title=job_title,
        department=department,
        team=team,
        office=office,
        supervisor=supervisor,
        hire_date=hire_date,
        termination_date=termination_date,
        gender=gender,
        language=language,
        custom=custom or [],
    )


def person(hr_id: str, *, email: Optional[str] = None, first_name: Optional[str] = None,
           last_name: Optional[str] = None) -> types.PersonRef:
    """Another employee by reference: the supervisor."""
    return types.PersonRef(hr_id=str(hr_id), email=email, first_name=first_name, last_name=last_name)


def text(name: str, value: str) -> types.Attribute:
    """A custom text attribute (`custom.<name>` in rules)."""
    return types.Attribute(name, types.AttributeValue_Text(value))


def account(
    id: str,
    user_name: str,
    *,
    external_id: Optional[str] = None,
    email: Optional[str] = None,
    first_name: Optional[str] = None,
    last_name: Optional[str] = None,
    active: bool = True,
    attributes: Optional[List[types.Attribute]] = None,
    manager_id: Optional[str] = None,
) -> types.Account:
    """An account of the app as it is now; `id` is the app's own."""
    return types.Account(
        id=str(id),
        external_id=external_id,
        user_name=user_name,
        email=email,
        first_name=first_name,
        last_name=last_name,
        active=active,
        attributes=attributes or [],
        manager_id=manager_id,
    )


def team(id: str, name: str, *, external_id: Optional[str] = None,
         member_ids: Optional[List[str]] = None) -> types.Team:
    return types.Team(id=str(id), name=name, external_id=external_id, member_ids=member_ids or [])


def now_millis() -> int:
    """Milliseconds since the Unix epoch, from the host's clock."""
    return _clock.now_millis()


def time_zone() -> str:
    """The integration's IANA time zone (`UTC` unless it sets one)."""
    return _clock.time_zone()


def require(field_name: str, purpose: str) -> None:
    """A rule needs this employee field (`department`, `custom.Cost center`)
    for `purpose`; the host stops a run whose source withholds it."""
    _fields.require(field_name, purpose)


def unreadable(field_name: str, hint: str) -> None:
    """A source: the HR system withheld this field; `hint` says how to
    release it."""
    _fields.unreadable(field_name, hint)


def expect(field_name: str, values: List[str], purpose: str) -> None:
    """A rule compares `field_name` with these values (ignoring case): a
    value no employee of a full read has — a typo such as `externl` — is
    noted in the run's plan, naming the values the read had."""
    _fields.expect(field_name, list(values), purpose)


def label(field_name: str, label_text: str) -> None:
    """A source: the custom field `field_name` (`custom.dynamic_87541`) is
    labelled `label_text` (`Cost center`) in the HR system; rules may name
    it either way. Once per field and session."""
    _fields.label(field_name, label_text)


def accepts(attributes: List[str]) -> None:
    """A target's account attributes (`title`, `cost_center`); the target
    base class calls it from `accepted_attributes`."""
    _fields.accepts(list(attributes))


__all__ = [
    "PluginInfo",
    "types",
    "http",
    "config",
    "raw",
    "schema",
    "secret",
    "employee",
    "person",
    "text",
    "account",
    "team",
    "now_millis",
    "time_zone",
    "log",
    "require",
    "unreadable",
    "expect",
    "label",
    "accepts",
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
]
