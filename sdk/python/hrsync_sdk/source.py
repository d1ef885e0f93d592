"""A source plugin: an HR system the host reads employees from.

    class HiBob(Source):
        info = PluginInfo(name="hibob", version="1.0.0", config=Config, secrets=[("token", "API token")],
                          hosts=["https://api.hibob.com"])

        def __init__(self) -> None:          # once per run, before the first call
            self.settings = config(Config)

        def list_employees(self, page: Optional[str], page_size: int) -> types.EmployeePage:
            ...
            return employee_page(employees, rejected, next_page=..., cursor=...)

    SourceApi = export(HiBob)               # the name componentize-py looks for

The defaults are the Rust SDK's: `test_connection` reads one employee,
`changes_since` and `parse_webhook` are `Unsupported` (the host then does
full reads). Paging: return `next_page` (any text, e.g. the next page
number) until the last page, which carries `cursor` for `changes_since`
when the HR system offers incremental reads.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, List, Optional, Tuple, TypeVar

from wit_world import exports
from wit_world.imports import types

from . import PluginInfo
from .errors import Unsupported, check_list, check_type, describe_exception, guarded
from .plugin import Instance, checked_employees, info_of

R = TypeVar("R")


class Source:
    info: ClassVar[PluginInfo]

    def test_connection(self) -> None:
        """Checks credentials and reachability; by default reads one employee."""
        self.list_employees(None, 1)

    def list_employees(self, page: Optional[str], page_size: int) -> types.EmployeePage:
        """One page of all employees; `page` is the previous page's `next_page`."""
        raise Unsupported("list_employees is not written yet")

    def changes_since(self, cursor: str, page: Optional[str], page_size: int) -> types.ChangePage:
        """Employees changed since `cursor`. By default unsupported: the host
        then does full reads."""
        raise Unsupported("incremental reads")

    def parse_webhook(self, request: types.WebhookRequest) -> List[types.WebhookEvent]:
        """Turns a webhook the HR system sent into events. By default unsupported."""
        raise Unsupported("webhooks")


def employee_page(
    employees: List[types.Employee],
    rejected: Optional[List[types.RejectedRecord]] = None,
    *,
    next_page: Optional[str] = None,
    cursor: Optional[str] = None,
) -> types.EmployeePage:
    return types.EmployeePage(employees=employees, rejected=rejected or [], next_page=next_page, cursor=cursor)


def map_records(
    records: Iterable[R],
    to_employee: Callable[[R], types.Employee],
    hr_id: Callable[[R], Any] = lambda record: record.get("id") if isinstance(record, dict) else None,
) -> Tuple[List[types.Employee], List[types.RejectedRecord]]:
    """Maps each record of the HR system with `to_employee`. A record whose
    mapping raises is rejected with the reason — `KeyError: 'email' (app.py
    line 40, in to_employee)` — and the others go on: one bad record never
    sinks a run."""
    employees: List[types.Employee] = []
    rejected: List[types.RejectedRecord] = []
    for record in records:
        try:
            employee = to_employee(record)
            check_type(employee, types.Employee, "to_employee's result")
            checked_employees([employee], "employee")
            employees.append(employee)
        except Exception as error:  # noqa: BLE001 — reported per record
            try:
                known = hr_id(record)
            except Exception:  # noqa: BLE001 — the id is only for the report
                known = None
            rejected.append(types.RejectedRecord(None if known is None else str(known), describe_exception(error)))
    return employees, rejected


def export(cls: Callable[[], Source]) -> type:
    """The class componentize-py calls for `source-api`: assign it to
    `SourceApi` in your app module."""
    info = info_of(cls, Source)  # type: ignore[arg-type]
    instance: Instance[Source] = Instance(cls)

    def page_checked(page: object, kind: type, what: str) -> Any:
        check_type(page, kind, what)
        checked_employees(getattr(page, "employees"), f"{what}.employees")
        check_list(getattr(page, "rejected"), types.RejectedRecord, f"{what}.rejected")
        return page

    class SourceApi(exports.SourceApi):
        def describe(self) -> types.Manifest:
            return info.manifest(types.PluginKind.SOURCE)

        def test_connection(self) -> None:
            def test() -> None:
                plugin = instance.get()
                if type(plugin).test_connection is Source.test_connection:
                    # The default reads a page: checked like any other.
                    page_checked(plugin.list_employees(None, 1), types.EmployeePage, "list_employees' result")
                else:
                    plugin.test_connection()

            guarded(test)

        def list_employees(self, page: Optional[str], page_size: int) -> types.EmployeePage:
            result: types.EmployeePage = guarded(
                lambda: page_checked(
                    instance.get().list_employees(page, page_size), types.EmployeePage, "list_employees' result"
                )
            )
            return result

        def changes_since(self, cursor: str, page: Optional[str], page_size: int) -> types.ChangePage:
            result: types.ChangePage = guarded(
                lambda: page_checked(
                    instance.get().changes_since(cursor, page, page_size), types.ChangePage, "changes_since' result"
                )
            )
            return result

        def parse_webhook(self, request: types.WebhookRequest) -> List[types.WebhookEvent]:
            def parse() -> List[types.WebhookEvent]:
                events = instance.get().parse_webhook(request)
                check_list(events, types.WebhookEvent, "parse_webhook's result")
                return events

            return guarded(parse)

    return SourceApi


__all__ = ["Source", "employee_page", "map_records", "export"]
