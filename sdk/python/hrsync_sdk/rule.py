"""A rule plugin: one step of the rule pipeline — scoping, mapping, team
naming.

    class DepartmentTeams(Rule):
        info = PluginInfo(name="department-teams", version="1.0.0", config=Config)

        def __init__(self) -> None:
            self.settings = config(Config)
            require("department", "team per department")

        def evaluate_one(self, subject: Subject) -> Decision:
            if not subject.employee.department:
                return keep()
            account = desired(subject)
            account.teams.append(subject.employee.department)
            return modify(account)

    RuleApi = export(DepartmentTeams)

`evaluate` gets a batch and returns one decision per subject; by default
it calls `evaluate_one` for each, and a subject whose `evaluate_one`
raises is rejected with the reason (left as is this run, reported) while
the others go on — except a typed error (`raise Fatal(...)`,
`InvalidInput(...)`), which fails the batch as in the Rust SDK.
"""

from __future__ import annotations

from typing import Callable, ClassVar, List

from wit_world import exports
from wit_world.exports.rule_api import (
    Decision,
    Decision_Exclude,
    Decision_Keep,
    Decision_Modify,
    Decision_Reject,
    Subject,
)
from wit_world.imports import types

from . import PluginInfo
from componentize_py_types import Err

from .errors import PluginError, check_type, describe_exception, guarded
from .plugin import Instance, info_of

_DECISIONS = (Decision_Exclude, Decision_Keep, Decision_Modify, Decision_Reject)


def keep() -> Decision:
    """In scope; the desired account stays as it came in."""
    return Decision_Keep()


def exclude(reason: str) -> Decision:
    """Out of scope, with the reason shown in the run log."""
    return Decision_Exclude(reason)


def modify(account: types.DesiredAccount) -> Decision:
    """In scope, with a changed desired account (see `desired`)."""
    return Decision_Modify(account)


def reject(reason: str) -> Decision:
    """This rule cannot decide for this employee: left exactly as is this
    run, and reported."""
    return Decision_Reject(reason)


def desired(subject: Subject) -> types.DesiredAccount:
    """The desired account so far: what earlier rules made, else the default
    one (external id = HR id, user name = e-mail, names, manager =
    supervisor), as the host builds it."""
    if subject.desired is not None:
        return subject.desired
    employee = subject.employee
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


class Rule:
    info: ClassVar[PluginInfo]

    def evaluate(self, batch: List[Subject]) -> List[Decision]:
        """One decision per subject, in order."""
        decisions: List[Decision] = []
        for subject in batch:
            try:
                decision = self.evaluate_one(subject)
                check_type(decision, _DECISIONS, "evaluate_one's result")
                decisions.append(decision)
            except (PluginError, Err):
                # A typed error is the plugin's to give: the whole batch fails.
                raise
            except Exception as error:  # noqa: BLE001 — this employee alone
                decisions.append(reject(describe_exception(error)))
        return decisions

    def evaluate_one(self, subject: Subject) -> Decision:
        """By default keeps the employee with the desired account unchanged."""
        return keep()


def export(cls: Callable[[], Rule]) -> type:
    """The class componentize-py calls for `rule-api`: assign it to
    `RuleApi` in your app module."""
    info = info_of(cls, Rule)  # type: ignore[arg-type]
    instance: Instance[Rule] = Instance(cls)

    class RuleApi(exports.RuleApi):
        def describe(self) -> types.Manifest:
            return info.manifest(types.PluginKind.RULE)

        def evaluate(self, batch: List[Subject]) -> List[Decision]:
            def evaluated() -> List[Decision]:
                decisions = instance.get().evaluate(batch)
                if not isinstance(decisions, list) or len(decisions) != len(batch):
                    raise TypeError(f"evaluate must return a list of one decision per subject ({len(batch)})")
                for index, decision in enumerate(decisions):
                    check_type(decision, _DECISIONS, f"evaluate's result[{index}]")
                return decisions

            return guarded(evaluated)

    return RuleApi


__all__ = ["Rule", "Subject", "Decision", "keep", "exclude", "modify", "reject", "desired", "export"]
