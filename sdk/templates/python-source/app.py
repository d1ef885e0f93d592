"""An hrsync source plugin in Python: reads the employees of the tiny HR
system (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
http://127.0.0.1:7003 with the bearer token `tiny-hr-token`).

Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
folder with the WIT files in wit/):

    componentize-py -d wit -w source bindings bindings
    MYPYPATH=bindings mypy --strict app.py
    componentize-py -d wit -w source componentize app -o {{name}}.wasm
    hrsync plugin test {{name}}.wasm --config installation.toml
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hrsync_sdk import PluginInfo, config, employee, http, person, secret, types
from hrsync_sdk.source import Source, employee_page, export, map_records

STATUSES = {
    "active": types.EmployeeStatus.ACTIVE,
    "onboarding": types.EmployeeStatus.ONBOARDING,
    "leave": types.EmployeeStatus.LEAVE,
    "inactive": types.EmployeeStatus.INACTIVE,
}


@dataclass
class Config:
    base_url: str = field(metadata={"description": "The HR system's address, e.g. https://hr.example.com"})
    page_size: int = field(default=100, metadata={"description": "Employees per request (1 to 100)"})


def to_employee(record: Dict[str, Any]) -> types.Employee:
    """One employee of the HR system's JSON; a record this raises for is
    rejected with the reason, the others go on."""
    manager = record.get("manager_id")
    return employee(
        str(record["id"]),
        record["first_name"],
        record["last_name"],
        email=record.get("email"),
        status=STATUSES[record.get("status") or "active"],
        department=record.get("department"),
        job_title=record.get("title"),
        supervisor=person(str(manager)) if manager is not None else None,
        hire_date=record.get("hired_on"),
    )


class TinyHr(Source):
    info = PluginInfo(
        name="{{name}}",
        version="0.1.0",
        description="Employees of the tiny HR system",
        config=Config,
        secrets=[("token", "API token of the HR system")],
        hosts=["http://127.0.0.1:7003"],
    )

    def __init__(self) -> None:
        self.settings = config(Config)
        self.token = secret("token")

    def list_employees(self, page: Optional[str], page_size: int) -> types.EmployeePage:
        body = (
            http.get(f"{self.settings.base_url}/api/employees")
            .bearer(self.token)
            .query(page=page or 1, per_page=min(page_size, self.settings.page_size))
            .send()
            .raise_for_status()
            .json()
        )
        employees, rejected = map_records(body["employees"], to_employee)
        next_page = body.get("next_page")
        return employee_page(employees, rejected, next_page=str(next_page) if next_page else None)


SourceApi = export(TinyHr)
