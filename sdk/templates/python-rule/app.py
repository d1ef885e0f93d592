"""An hrsync rule plugin in Python: puts each employee in a team named
after their department ("Abteilung Vertrieb") and leaves out employees
without an e-mail address.

Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
folder with the WIT files in wit/):

    componentize-py -d wit -w rule bindings bindings
    MYPYPATH=bindings mypy --strict app.py
    componentize-py -d wit -w rule componentize app -o {{name}}.wasm
    hrsync plugin test {{name}}.wasm --config installation.toml --employees employees.json
"""

from dataclasses import dataclass, field

from hrsync_sdk import PluginInfo, config, log, require
from hrsync_sdk.rule import Decision, Rule, Subject, desired, exclude, export, keep, modify


@dataclass
class Config:
    prefix: str = field(default="", metadata={"description": "put before the department name"})


class DepartmentTeams(Rule):
    info = PluginInfo(
        name="{{name}}",
        version="0.1.0",
        description="Team per department, written in Python",
        config=Config,
    )

    def __init__(self) -> None:
        self.prefix = config(Config).prefix
        # Teams are named after the department: the host stops a run whose
        # source never returns one.
        require("department", f'team "{self.prefix}{{department}}"')

    def evaluate_one(self, subject: Subject) -> Decision:
        employee = subject.employee
        if not employee.email:
            return exclude(f"employee {employee.hr_id} has no e-mail address")
        if not employee.department:
            return keep()
        account = desired(subject)
        account.teams.append(self.prefix + employee.department)
        log.debug(f"{employee.hr_id} in team {account.teams[-1]}")
        return modify(account)


RuleApi = export(DepartmentTeams)
