"""A target plugin: a downstream app whose accounts and teams the host keeps
in step.

    class TinyApp(Target):
        info = PluginInfo(name="tiny-app", version="1.0.0", config=Config, secrets=[("token", "API token")])
        capabilities = capabilities(teams=True, managers=False, max_batch=50)

        def list_accounts(self, page, page_size) -> types.AccountPage: ...
        def create_account(self, draft: types.AccountDraft) -> str: ...   # the new id
        def update_account(self, update: types.AccountUpdate) -> None: ...
        def deactivate_account(self, id: str) -> None: ...

    TargetApi = export(TinyApp)

`apply` hands each change to the method of its kind (`create_account`,
`update_account`, `deactivate_account`, `reactivate_account`, `invite`,
`create_team`, `rename_team`, `add_member`, `remove_member`,
`link_manager`); the host plans only what `capabilities` says the app
supports, and a kind you did not write is `Unsupported` for that change
alone. Each change is guarded on its own: one that raises fails alone and
the batch goes on. Override `apply_batch` for APIs with bulk endpoints.
"""

from __future__ import annotations

from typing import Callable, ClassVar, List, Optional

from componentize_py_types import Err, Ok, Result
from wit_world import exports
from wit_world.imports import fields as _fields
from wit_world.imports import types

from . import PluginInfo
from .errors import Unsupported, as_wit_error, check_list, check_type, guarded
from .plugin import Instance, info_of


def capabilities(
    *,
    teams: bool = False,
    managers: bool = False,
    invites: bool = False,
    reactivation: bool = True,
    max_batch: int = 50,
    matching: Optional[List[str]] = None,
) -> types.Capabilities:
    """What the app supports; `matching` are the account fields existing
    accounts are matched by, preferred first (`email`, `user-name`,
    `external-id`)."""
    return types.Capabilities(
        teams=teams,
        managers=managers,
        invites=invites,
        reactivation=reactivation,
        max_batch=max_batch,
        matching_attributes=matching if matching is not None else ["email"],
    )


class Target:
    info: ClassVar[PluginInfo]
    capabilities: ClassVar[types.Capabilities] = capabilities()
    # The account attributes the app can set (`title`, `cost_center`); a run
    # whose rules set another stops before anything is planned. None: any.
    accepted_attributes: ClassVar[Optional[List[str]]] = None

    def test_connection(self) -> None:
        """By default lists one account."""
        self.list_accounts(None, 1)

    def list_accounts(self, page: Optional[str], page_size: int) -> types.AccountPage:
        raise Unsupported("list_accounts is not written yet")

    def list_teams(self, page: Optional[str], page_size: int) -> types.TeamPage:
        """By default: no teams."""
        return types.TeamPage(teams=[], next_page=None)

    def get_accounts(self, ids: List[str]) -> List[types.Account]:
        """The accounts with these ids (missing ones left out). By default
        unsupported: the host then lists every account instead."""
        raise Unsupported("this target cannot look accounts up by id")

    def apply(self, change: types.Change) -> Optional[str]:
        """Applies one change; returns the id of what it created."""
        if isinstance(change, types.Change_CreateAccount):
            return self.create_account(change.value)
        if isinstance(change, types.Change_UpdateAccount):
            return self.update_account(change.value)
        if isinstance(change, types.Change_DeactivateAccount):
            return self.deactivate_account(change.value)
        if isinstance(change, types.Change_ReactivateAccount):
            return self.reactivate_account(change.value)
        if isinstance(change, types.Change_Invite):
            return self.invite(change.value)
        if isinstance(change, types.Change_CreateTeam):
            return self.create_team(change.value)
        if isinstance(change, types.Change_RenameTeam):
            return self.rename_team(change.value)
        if isinstance(change, types.Change_AddMember):
            return self.add_member(change.value)
        if isinstance(change, types.Change_RemoveMember):
            return self.remove_member(change.value)
        if isinstance(change, types.Change_LinkManager):
            return self.link_manager(change.value)
        raise Unsupported(f"change {type(change).__name__}")

    def apply_batch(self, changes: List[types.Change]) -> List[Result[types.Applied, types.PluginError]]:
        """One outcome per change, in order; a failed change does not stop
        the ones after it."""
        outcomes: List[Result[types.Applied, types.PluginError]] = []
        for change in changes:
            try:
                created = self.apply(change)
                if created is not None and not isinstance(created, str):
                    raise TypeError(f"apply must return the new id as str or None, not {created!r}")
                outcomes.append(Ok(types.Applied(created)))
            except Exception as error:  # noqa: BLE001 — this change fails alone
                outcomes.append(Err(as_wit_error(error)))
        return outcomes

    def create_account(self, draft: types.AccountDraft) -> Optional[str]:
        raise Unsupported("creating accounts")

    def update_account(self, update: types.AccountUpdate) -> Optional[str]:
        raise Unsupported("updating accounts")

    def deactivate_account(self, id: str) -> Optional[str]:
        raise Unsupported("deactivating accounts")

    def reactivate_account(self, id: str) -> Optional[str]:
        raise Unsupported("reactivating accounts")

    def invite(self, id: str) -> Optional[str]:
        raise Unsupported("invitations")

    def create_team(self, draft: types.TeamDraft) -> Optional[str]:
        raise Unsupported("teams")

    def rename_team(self, rename: types.TeamRename) -> Optional[str]:
        raise Unsupported("renaming teams")

    def add_member(self, membership: types.Membership) -> Optional[str]:
        raise Unsupported("team members")

    def remove_member(self, membership: types.Membership) -> Optional[str]:
        raise Unsupported("team members")

    def link_manager(self, link: types.ManagerLink) -> Optional[str]:
        raise Unsupported("managers")


def export(cls: Callable[[], Target]) -> type:
    """The class componentize-py calls for `target-api`: assign it to
    `TargetApi` in your app module."""
    info = info_of(cls, Target)  # type: ignore[arg-type]
    caps: types.Capabilities = getattr(cls, "capabilities")
    check_type(caps, types.Capabilities, f"{getattr(cls, '__name__', cls)}.capabilities")
    accepted = getattr(cls, "accepted_attributes")
    instance: Instance[Target] = Instance(cls)

    def accounts_checked(accounts: object, what: str) -> List[types.Account]:
        check_list(accounts, types.Account, what)
        return accounts  # type: ignore[return-value]

    class TargetApi(exports.TargetApi):
        def describe(self) -> types.Manifest:
            return info.manifest(types.PluginKind.TARGET)

        def get_capabilities(self) -> types.Capabilities:
            if accepted is not None:
                _fields.accepts(list(accepted))
            return caps

        def test_connection(self) -> None:
            guarded(lambda: instance.get().test_connection())

        def list_accounts(self, page: Optional[str], page_size: int) -> types.AccountPage:
            def listed() -> types.AccountPage:
                result = instance.get().list_accounts(page, page_size)
                check_type(result, types.AccountPage, "list_accounts' result")
                accounts_checked(result.accounts, "list_accounts' result.accounts")
                return result

            return guarded(listed)

        def get_accounts(self, ids: List[str]) -> List[types.Account]:
            return guarded(lambda: accounts_checked(instance.get().get_accounts(ids), "get_accounts' result"))

        def list_teams(self, page: Optional[str], page_size: int) -> types.TeamPage:
            def listed() -> types.TeamPage:
                result = instance.get().list_teams(page, page_size)
                check_type(result, types.TeamPage, "list_teams' result")
                check_list(result.teams, types.Team, "list_teams' result.teams")
                return result

            return guarded(listed)

        def apply_batch(self, changes: List[types.Change]) -> List[Result[types.Applied, types.PluginError]]:
            try:
                plugin = instance.get()
            except Exception as error:  # noqa: BLE001 — the plugin could not start
                failed: Err[types.PluginError] = Err(as_wit_error(error))
                return [failed for _ in changes]
            try:
                outcomes = plugin.apply_batch(changes)
                if not isinstance(outcomes, list) or len(outcomes) != len(changes):
                    raise TypeError(f"apply_batch must return one outcome per change ({len(changes)})")
                return outcomes
            except Exception as error:  # noqa: BLE001 — every change fails the same way
                return [Err(as_wit_error(error)) for _ in changes]

    return TargetApi


__all__ = ["Target", "capabilities", "export"]
