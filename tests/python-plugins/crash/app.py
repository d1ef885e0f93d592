"""A Python rule written without hrsync-sdk whose evaluate raises a KeyError
for an employee without a department: the host must name the exception,
its message and the line (tests/polyglot.rs), not a bare wasm trap."""

from typing import List

from wit_world import exports
from wit_world.exports.rule_api import Decision, Decision_Keep, Subject
from wit_world.imports import types

TEAMS = {"Engineering": "Eng"}


def team_of(subject: Subject) -> str:
    return TEAMS[subject.employee.department or "identifier"]


class RuleApi(exports.RuleApi):
    def describe(self) -> types.Manifest:
        return types.Manifest(
            name="python-crash",
            version="1.0.0",
            kind=types.PluginKind.RULE,
            description="Raises for employees outside Engineering",
            config_schema="{}",
            secrets=[],
            requested_hosts=[],
        )

    def evaluate(self, batch: List[Subject]) -> List[Decision]:
        for subject in batch:
            team_of(subject)
        return [Decision_Keep() for _ in batch]
