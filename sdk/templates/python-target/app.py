"""An hrsync target plugin in Python: keeps the users and teams of the tiny
app (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
http://127.0.0.1:7004, basic auth `api` / `tiny-app-key`).

Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
folder with the WIT files in wit/):

    componentize-py -d wit -w target bindings bindings
    MYPYPATH=bindings mypy --strict app.py
    componentize-py -d wit -w target componentize app -o {{name}}.wasm
    hrsync plugin test {{name}}.wasm --config installation.toml --apply changes.json
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hrsync_sdk import PluginInfo, account, config, http, secret, team, text, types
from hrsync_sdk.target import Target, capabilities, export

# Account fields of hrsync and the app's names for them.
FIELDS = {"email": "email", "first_name": "first_name", "last_name": "last_name", "title": "title"}


@dataclass
class Config:
    base_url: str = field(metadata={"description": "The app's address, e.g. https://app.example.com"})


def value(attribute: Optional[types.AttributeValue]) -> Any:
    if attribute is None:
        return None
    return attribute.value


def to_account(user: Dict[str, Any]) -> types.Account:
    title = user.get("title")
    return account(
        user["id"],
        user["email"],
        external_id=user.get("external_id"),
        email=user["email"],
        first_name=user.get("first_name"),
        last_name=user.get("last_name"),
        active=bool(user.get("active", True)),
        attributes=[text("title", title)] if title else [],
    )


class TinyApp(Target):
    info = PluginInfo(
        name="{{name}}",
        version="0.1.0",
        description="Users and teams of the tiny app",
        config=Config,
        secrets=[("api_key", "API key of the app")],
        hosts=["http://127.0.0.1:7004"],
    )
    capabilities = capabilities(teams=True, reactivation=True, max_batch=50, matching=["email", "external-id"])
    accepted_attributes = ["title"]

    def __init__(self) -> None:
        self.base = config(Config).base_url
        self.key = secret("api_key")

    def request(self, call: http.Request) -> http.Response:
        return call.basic("api", self.key).send().raise_for_status()

    def list_accounts(self, page: Optional[str], page_size: int) -> types.AccountPage:
        offset = int(page or 0)
        body = self.request(http.get(f"{self.base}/api/users").query(offset=offset, limit=page_size)).json()
        users: List[Dict[str, Any]] = body["users"]
        more = offset + len(users) < body["total"]
        return types.AccountPage([to_account(u) for u in users], str(offset + len(users)) if more else None)

    def list_teams(self, page: Optional[str], page_size: int) -> types.TeamPage:
        # The external id is how hrsync knows the teams it made ("hrsync:<name>");
        # teams without it are taken as made by hand and left alone.
        body = self.request(http.get(f"{self.base}/api/teams")).json()
        teams = [team(t["id"], t["name"], external_id=t.get("external_id"), member_ids=t["member_ids"]) for t in body["teams"]]
        return types.TeamPage(teams, None)

    def create_account(self, draft: types.AccountDraft) -> Optional[str]:
        user = {
            "external_id": draft.external_id,
            "email": draft.email or draft.user_name,
            "first_name": draft.first_name,
            "last_name": draft.last_name,
        }
        for attribute in draft.attributes:
            user[FIELDS.get(attribute.name, attribute.name)] = value(attribute.value)
        created = self.request(http.post(f"{self.base}/api/users").json(user)).json()
        return str(created["id"])

    def update_account(self, update: types.AccountUpdate) -> Optional[str]:
        fields = {FIELDS.get(c.field, c.field): value(c.after) for c in update.changes}
        self.request(http.patch(f"{self.base}/api/users/{update.id}").json(fields))
        return None

    def deactivate_account(self, id: str) -> Optional[str]:
        self.request(http.patch(f"{self.base}/api/users/{id}").json({"active": False}))
        return None

    def reactivate_account(self, id: str) -> Optional[str]:
        self.request(http.patch(f"{self.base}/api/users/{id}").json({"active": True}))
        return None

    def create_team(self, draft: types.TeamDraft) -> Optional[str]:
        body = {"name": draft.name, "external_id": draft.external_id}
        created = self.request(http.post(f"{self.base}/api/teams").json(body)).json()
        return str(created["id"])

    def add_member(self, membership: types.Membership) -> Optional[str]:
        url = f"{self.base}/api/teams/{membership.team_id}/members"
        self.request(http.post(url).json({"user_id": membership.account_id}))
        return None

    def remove_member(self, membership: types.Membership) -> Optional[str]:
        self.request(http.delete(f"{self.base}/api/teams/{membership.team_id}/members/{membership.account_id}"))
        return None


TargetApi = export(TinyApp)
