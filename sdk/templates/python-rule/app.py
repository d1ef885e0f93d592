"""An hrsync rule plugin in Python: puts each employee in a team named after
their department ("Abteilung Vertrieb") and leaves out employees without an
e-mail address.

Build (from this folder; see sdk/README.md):

    componentize-py -d ../../../wit -w rule componentize app -o department_teams.wasm
"""

import json
from typing import List

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.rule_api import Decision, Decision_Exclude, Decision_Keep, Decision_Modify, Subject
from wit_world.imports import config, fields, log, types

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "prefix": {"type": "string", "description": "put before the department name"},
    },
}


def default_account(employee: types.Employee) -> types.DesiredAccount:
    """The account an employee gets when no earlier rule changed it (see
    `subject` in wit/worlds.wit)."""
    return types.DesiredAccount(
        external_id=employee.hr_id,
        user_name=employee.email or "",
        email=employee.email,
        first_name=employee.first_name,
        last_name=employee.last_name,
        attributes=[],
        create_only=[],
        teams=[],
        manager_hr_id=employee.supervisor.hr_id if employee.supervisor else None,
    )


class RuleApi(exports.RuleApi):
    def __init__(self) -> None:
        self.prefix = None

    def describe(self) -> types.Manifest:
        return types.Manifest(
            name="python-department-teams",
            version="1.0.0",
            kind=types.PluginKind.RULE,
            description="Team per department, written in Python",
            config_schema=json.dumps(SCHEMA),
            secrets=[],
            requested_hosts=[],
        )

    def evaluate(self, batch: List[Subject]) -> List[Decision]:
        if self.prefix is None:
            settings = json.loads(config.get_config())
            prefix = settings.get("prefix", "")
            if not isinstance(prefix, str):
                raise Err(types.PluginError_InvalidInput(types.InvalidField("prefix", "must be text")))
            self.prefix = prefix
            # Teams are named after the department: the host stops a run
            # whose source never returns one.
            fields.require("department", f"team \"{prefix}{{department}}\"")
        decisions: List[Decision] = []
        for subject in batch:
            employee = subject.employee
            if not employee.email:
                decisions.append(Decision_Exclude(f"employee {employee.hr_id} has no e-mail address"))
                continue
            if employee.department:
                desired = subject.desired or default_account(employee)
                desired.teams.append(self.prefix + employee.department)
                decisions.append(Decision_Modify(desired))
            else:
                decisions.append(Decision_Keep())
        log.log(log.Level.DEBUG, f"evaluated {len(batch)} employees")
        return decisions
