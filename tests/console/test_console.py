"""The admin console, screen by screen, as an admin uses it (see conftest.py
for the servers and the browser)."""

from __future__ import annotations

import re
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from conftest import (
    PERSONIO_ID,
    PERSONIO_SECRET,
    PLUGINS,
    SCIM_TOKEN,
    Stack,
    Tenant,
    accessible,
    shot,
    sign_in,
)

SLOW = 60_000  # ms: a sync against the emulators takes a few seconds


def integration_via_api(stack: Stack, tenant: Tenant, name: str) -> str:
    """Personio → scope rule → team map → SCIM, active, first run done."""
    source = tenant.call("POST", "/api/v1/installations", {
        "name": f"{name} HR", "plugin": "personio", "config": {"base_url": stack.personio},
        "secrets": {"client-id": PERSONIO_ID, "client-secret": PERSONIO_SECRET}, "allowed_hosts": [stack.personio]})
    scope = tenant.call("POST", "/api/v1/installations", {
        "name": f"{name} scope", "plugin": "scope-rule",
        "config": {"exclude": [{"name": "externals", "all": [{"field": "employment_type", "op": "equals", "value": "external"}]}]}})
    teams = tenant.call("POST", "/api/v1/installations", {
        "name": f"{name} teams", "plugin": "team-map", "config": {"teams": [{"name": "Abteilung {department}"}]}})
    target = tenant.call("POST", "/api/v1/installations", {
        "name": f"{name} app", "plugin": "scim", "config": {"base_url": stack.scim},
        "secrets": {"token": SCIM_TOKEN}, "allowed_hosts": [origin(stack.scim)]})
    created = tenant.call("POST", "/api/v1/integrations", {
        "name": name, "source": source["id"], "rules": [scope["id"], teams["id"]], "target": target["id"]})
    integration = created["id"]
    started = tenant.call("POST", f"/api/v1/integrations/{integration}/activate")
    wait_for_run(tenant, started["run_id"])
    tenant.ids[name] = integration
    tenant.ids[f"{name} HR"] = source["id"]
    tenant.ids[f"{name} teams"] = teams["id"]
    return integration


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def wait_for_run(tenant: Tenant, run_id: str) -> dict:
    for _ in range(300):
        run = tenant.call("GET", f"/api/v1/runs/{run_id}")["run"]
        if run["status"] not in ("running", "queued"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def test_sign_in_with_a_key_and_out_again(stack: Stack, page: Page) -> None:
    page.goto(stack.base + "/integrations")
    expect(page).to_have_url(stack.base + "/sign-in")
    accessible(page)
    shot(page, "sign-in")
    page.get_by_label("API key").fill("sk_live_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid or was revoked")

    sign_in(page, stack.base, stack.a.key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "hrsync_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert stack.a.key not in str(page.context.cookies())
    response = page.request.get(stack.base + "/integrations")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(stack.base + "/sign-in")
    # The session ended on the server: the old cookie opens nothing.
    page.context.add_cookies([{**cookie}])
    page.goto(stack.base + "/integrations")
    expect(page).to_have_url(stack.base + "/sign-in")


def test_test_mode_shows_a_banner(stack: Stack, page: Page) -> None:
    key = stack.a.call("POST", "/api/v1/keys", {"name": "console test", "mode": "test"})["secret"]
    sign_in(page, stack.base, key)
    expect(page.get_by_role("status").first).to_contain_text("Test mode")
    accessible(page)


def test_the_wizard_from_personio_to_a_scim_app(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.a.key)
    page.get_by_role("link", name="New integration").click()
    page.get_by_label(re.compile("^personio")).check()
    accessible(page)
    shot(page, "wizard-1-source")
    page.get_by_role("button", name="Continue").click()

    # The config form comes from the plugin's JSON Schema.
    expect(page.get_by_text("default https://api.personio.de")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Personio (wizard)")
    page.get_by_label("base_url").fill(stack.personio)
    page.get_by_label("client-id").fill(PERSONIO_ID)
    page.get_by_label("client-secret").fill("wrong-secret")
    # A grant with a path: the server's error next to the hosts field.
    page.get_by_label("More origins").fill(stack.personio + "/v1")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#hosts-error")).to_contain_text("a grant is an origin")
    expect(page.get_by_label("More origins")).to_have_attribute("aria-invalid", "true")
    # Secrets are never sent back to the browser: entered again.
    expect(page.get_by_label("client-id")).to_have_value("")
    page.get_by_label("client-id").fill(PERSONIO_ID)
    page.get_by_label("client-secret").fill("wrong-secret")
    page.get_by_label("More origins").fill(stack.personio)
    expect(page.get_by_text("May connect to https://api.personio.de")).to_be_visible()
    page.get_by_role("button", name="Test").click()
    # A wrong secret: the test's error in words, no Continue.
    expect(page.locator(".test-result")).to_contain_text("✗")
    expect(page.locator(".test-result")).to_contain_text(re.compile("401|credentials|unauthori", re.I))
    expect(page.get_by_role("button", name="Continue")).to_have_count(0)
    accessible(page)
    shot(page, "wizard-2-test-failed")
    page.get_by_label("client-secret").fill(PERSONIO_SECRET)
    page.get_by_role("button", name="Test").click()
    expect(page.locator(".test-result")).to_contain_text("Connection works")
    shot(page, "wizard-2-test-passed")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Exclude externals").check()
    page.get_by_label(re.compile("Teams from department")).check()
    accessible(page)
    shot(page, "wizard-3-rules")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label(re.compile("^scim")).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name", exact=True).fill("SCIM app (wizard)")
    page.get_by_label("base_url").fill(stack.scim)
    page.get_by_label("token").fill(SCIM_TOKEN)
    page.get_by_label("More origins").fill(origin(stack.scim))
    page.get_by_role("button", name="Test").click()
    expect(page.locator(".test-result")).to_contain_text("Connection works")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Name of the integration").fill("Personio → SCIM (wizard)")
    expect(page.get_by_label("Schedule (cron)")).to_have_value("0 4 * * *")
    expect(page.get_by_label("Time zone")).to_have_value("UTC")
    accessible(page)
    shot(page, "wizard-4-options")
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview of the first sync")
    expect(preview).to_contain_text("11 create account", timeout=SLOW)
    expect(preview).to_contain_text("create account")
    expect(preview).to_contain_text("Abteilung")
    accessible(page)
    shot(page, "wizard-5-preview")
    # Nothing was written by the preview.
    assert scim_users(stack) == 0

    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".notice")).to_contain_text("Activated")
    page.get_by_role("link", name="Runs").click()
    expect(page.locator("#runs tbody tr").first).to_contain_text("created", timeout=SLOW)
    assert scim_users(stack) > 0


def scim_users(stack: Stack) -> int:
    request = urllib.request.Request(stack.scim + "/Users?count=1", headers={"authorization": f"Bearer {SCIM_TOKEN}"})
    with urllib.request.urlopen(request) as response:
        import json

        return int(json.load(response)["totalResults"])


def test_integrations_sync_now_and_a_paused_integration_resumed(stack: Stack, page: Page) -> None:
    integration = integration_via_api(stack, stack.a, "Nightly")
    sign_in(page, stack.base, stack.a.key)
    row = page.locator(f"#row-{integration}")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("succeeded")
    accessible(page)
    shot(page, "integrations")
    row.get_by_role("button", name="Sync Now").click()
    expect(page.locator(".notice")).to_contain_text("Sync started")
    expect(page.locator(f"#row-{integration}")).to_contain_text("succeeded", timeout=SLOW)

    # HR refuses the credentials: the run fails and the integration pauses.
    stack.a.call("PATCH", f"/api/v1/installations/{stack.a.ids['Nightly HR']}", {"secrets": {"client-secret": "revoked"}})
    page.goto(f"{stack.base}/integrations/{integration}")
    page.get_by_role("button", name="Sync Now").click()
    banner = page.locator(".banner.bad")
    for _ in range(100):
        if banner.count():
            break
        time.sleep(0.3)
        page.reload()
    expect(banner).to_contain_text("Paused")
    expect(banner).to_contain_text(re.compile("401|credentials|unauthori", re.I))
    accessible(page)
    shot(page, "paused")
    stack.a.call("PATCH", f"/api/v1/installations/{stack.a.ids['Nightly HR']}", {"secrets": {"client-secret": PERSONIO_SECRET}})
    banner.get_by_role("button", name="Resume").click()
    expect(page.locator(".notice")).to_contain_text("Resumed")
    expect(page.locator(".banner.bad")).to_have_count(0)
    assert stack.a.call("GET", f"/api/v1/integrations/{integration}")["state"] == "active"


def test_which_hr_statuses_get_an_account_is_chosen_on_the_overview(stack: Stack, page: Page) -> None:
    integration = integration_via_api(stack, stack.a, "Wallets")
    sign_in(page, stack.base, stack.a.key)
    page.goto(f"{stack.base}/integrations/{integration}")
    for status in ("onboarding", "active", "leave"):
        expect(page.locator(f"#opt-create-for-{status}")).to_be_checked()
    # A benefits wallet opens on the first day: active only.
    page.locator("#opt-create-for-onboarding").uncheck()
    page.locator("#opt-create-for-leave").uncheck()
    accessible(page)
    shot(page, "options-create-for")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_contain_text("Saved")
    assert stack.a.call("GET", f"/api/v1/integrations/{integration}")["options"]["create_for"] == ["active"]
    expect(page.locator("#opt-create-for-onboarding")).not_to_be_checked()
    # None at all is refused, naming the option.
    page.locator("#opt-create-for-active").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".error")).to_contain_text("create_for")
    assert stack.a.call("GET", f"/api/v1/integrations/{integration}")["options"]["create_for"] == ["active"]


def test_a_rule_change_previewed_against_the_current_rules(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    sign_in(page, stack.base, stack.a.key)
    page.goto(f"{stack.base}/integrations/{integration}/rules")
    accessible(page)
    template = page.get_by_label("team template 1", exact=True)
    expect(template).to_have_value("Abteilung {department}")
    template.fill("Team {department}")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Teams only the draft creates", timeout=SLOW)
    expect(preview).to_contain_text("Team IT")
    expect(preview).to_contain_text("team changes")
    expect(preview.get_by_role("table").first).to_contain_text("Team ")  # the examples from real employees
    accessible(page)
    shot(page, "rules-preview")
    # Nothing saved by the preview.
    stored = stack.a.call("GET", f"/api/v1/installations/{stack.a.ids['Nightly teams']}")
    assert stored["config"]["teams"][0]["name"] == "Abteilung {department}"

    # A scope row that names an unknown operator cannot be sent; a regex
    # that does not compile is named at its rule before anything runs.
    page.get_by_label("exclude filter 1 row 2 field").fill("department")
    page.get_by_label("exclude filter 1 row 2 operator").select_option("regex")
    page.get_by_label("exclude filter 1 row 2 value").fill("([unclosed")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("regex", timeout=SLOW)
    expect(page.locator("#preview")).to_contain_text("1. Nightly scope")
    page.get_by_label("exclude filter 1 row 2 field").fill("")

    page.get_by_label("team template 1", exact=True).fill("Team {department}")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".notice")).to_contain_text("Saved")
    stored = stack.a.call("GET", f"/api/v1/installations/{stack.a.ids['Nightly teams']}")
    assert stored["config"] == {"teams": [{"name": "Team {department}"}]}


def test_a_script_that_does_not_compile_is_named_by_line_and_column(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    script = stack.a.call("POST", "/api/v1/installations", {
        "name": "Script", "plugin": "script-rule", "config": {"script": "fn teams(e) { [\"All\"] }"}})
    rules = stack.a.call("GET", f"/api/v1/integrations/{integration}")["rules"]
    stack.a.call("PATCH", f"/api/v1/integrations/{integration}", {"rules": rules + [script["id"]]})
    try:
        sign_in(page, stack.base, stack.a.key)
        page.goto(f"{stack.base}/integrations/{integration}/rules")
        editor = page.get_by_label("Script", exact=True)
        expect(editor).to_have_value('fn teams(e) { ["All"] }')
        editor.fill('fn teams(e) {\n  [e.department +]\n}')
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview")).to_contain_text(re.compile(r"line 2, column \d+"), timeout=SLOW)
        accessible(page)
        shot(page, "rules-script-error")
        assert stack.a.call("GET", f"/api/v1/installations/{script['id']}")["config"]["script"] == 'fn teams(e) { ["All"] }'
    finally:
        stack.a.call("PATCH", f"/api/v1/integrations/{integration}", {"rules": rules})


def test_the_runs_side_panel(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    sign_in(page, stack.base, stack.a.key)
    page.goto(f"{stack.base}/integrations/{integration}/runs")
    accessible(page)
    shot(page, "runs")
    page.locator("#runs tbody tr").last.get_by_role("link").click()
    panel = page.locator("#panel")
    # The first run: every account created, or taken over when the app
    # (shared by these tests) had it already.
    expect(panel).to_contain_text("peter.wright@example.com", timeout=SLOW)
    expect(panel).to_contain_text(re.compile("create account|taken over"))
    accessible(page)
    shot(page, "run-panel")
    panel.get_by_label("Show").select_option("skipped")
    expect(panel.locator("table.items tbody tr").first).to_contain_text("excluded by filter `externals`")
    expect(panel).not_to_contain_text("peter.wright@example.com")
    page.keyboard.press("Escape")
    expect(panel).to_be_empty()


def next_version(component: bytes) -> bytes:
    assert b"0.1.0" in component
    return component.replace(b"0.1.0", b"0.2.0")


def test_a_plugin_uploaded_upgraded_and_rolled_back(stack: Stack, page: Page) -> None:
    integration_via_api(stack, stack.a, "Upgrades") if "Upgrades" not in stack.a.ids else None
    sign_in(page, stack.base, stack.a.key)
    page.get_by_role("link", name="Plugins").click()
    accessible(page)
    with tempfile.TemporaryDirectory() as folder:
        # Larger than the API's JSON bodies (1 MiB): uploads have their own limit.
        for plugin in ("script_rule", "scim"):
            newer = Path(folder) / f"{plugin}-0.2.0.wasm"
            newer.write_bytes(next_version((PLUGINS / f"{plugin}.wasm").read_bytes()))
            page.get_by_label("Upload a plugin").set_input_files(str(newer))
            page.get_by_role("button", name="Upload", exact=True).click()
            expect(page.locator(".notice")).to_contain_text("Uploaded")
    assert (PLUGINS / "script_rule.wasm").stat().st_size > 1 << 20
    expect(page.get_by_role("row", name=re.compile("^script-rule"))).to_contain_text("0.2.0")
    expect(page.get_by_role("row", name=re.compile("^scim"))).to_contain_text("0.2.0")
    shot(page, "plugins")
    page.get_by_role("link", name="Upgrades app").click()
    expect(page.get_by_text("MiB of memory")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Upgrade to 0.2.0").click()
    expect(page.locator(".notice")).to_contain_text("Upgraded")
    expect(page.locator("dl.facts")).to_contain_text("scim 0.2.0")
    shot(page, "installation")
    page.get_by_role("button", name="Roll back to 0.1.0").click()
    expect(page.locator(".notice")).to_contain_text("Rolled back")
    expect(page.locator("dl.facts")).to_contain_text("scim 0.1.0")


def test_members_and_keys(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.a.key)
    page.get_by_role("link", name="Members and keys").click()
    page.get_by_label("Invite", exact=True).fill("viewer@acme.example")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("row", name=re.compile("viewer@acme.example"))).to_be_visible()
    page.get_by_label("New key", exact=True).fill("console key")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("The new key", exact=True).input_value()
    assert secret.startswith("sk_live_")
    accessible(page)
    shot(page, "members")
    # Shown once: not on the next visit.
    page.goto(stack.base + "/members")
    assert secret not in page.content()
    page.get_by_role("row", name=re.compile("console key")).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row", name=re.compile("console key")).get_by_role("button", name="Revoke")).to_have_count(0)
    revoked = [k for k in stack.a.call("GET", "/api/v1/keys") if k["name"] == "console key"]
    assert revoked and revoked[0]["revoked_at"] is not None


def test_a_viewer_sees_everything_and_no_write_button(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    member = stack.a.call("POST", "/api/v1/members", {"email": "watcher@acme.example", "role": "viewer"})
    key = stack.a.call("POST", "/api/v1/keys", {"name": "watcher", "mode": "live", "member_id": member["id"]})["secret"]
    sign_in(page, stack.base, key)
    expect(page.get_by_role("link", name="Nightly")).to_be_visible()
    for path in ("/integrations", f"/integrations/{integration}", f"/integrations/{integration}/runs",
                 f"/integrations/{integration}/rules", "/plugins"):
        page.goto(stack.base + path)
        for name in ("Sync Now", "Activate", "Deactivate", "Save", "Apply", "Upload", "New integration", "Resume"):
            expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name="New integration")).to_have_count(0)
    # Forged by hand, a viewer's POST is refused by the API's own check.
    page.goto(f"{stack.base}/integrations/{integration}")
    token = page.locator("body").get_attribute("hx-headers")
    assert token
    import json

    csrf = json.loads(token)["x-csrf-token"]
    response = page.request.post(f"{stack.base}/integrations/{integration}/sync", form={"csrf": csrf})
    assert response.status == 403
    assert "admin role" in response.text()


def test_tenant_b_never_sees_tenant_a(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    run = stack.a.call("GET", f"/api/v1/runs?integration={integration}&limit=1")[0]["id"]
    installation = stack.a.ids["Nightly HR"]
    sign_in(page, stack.base, stack.b.key)
    expect(page.get_by_text("No integrations yet")).to_be_visible()
    for path in (f"/integrations/{integration}", f"/integrations/{integration}/runs", f"/integrations/{integration}/rules",
                 f"/runs/{run}", f"/installations/{installation}"):
        response = page.goto(stack.base + path)
        assert response is not None and response.status == 404, path
        assert "Nightly" not in page.content()
    page.goto(stack.base + "/plugins")
    assert "Nightly" not in page.content()
    page.goto(stack.base + "/audit")
    assert "Nightly" not in page.content() and "acme" not in page.content()


def test_a_post_without_the_csrf_token_is_refused(stack: Stack, page: Page) -> None:
    integration = stack.a.ids.get("Nightly") or integration_via_api(stack, stack.a, "Nightly")
    sign_in(page, stack.base, stack.a.key)
    before = len(stack.a.call("GET", f"/api/v1/runs?integration={integration}"))
    response = page.request.post(f"{stack.base}/integrations/{integration}/sync", form={"x": "1"})
    assert response.status == 403
    assert "security token" in response.text()
    response = page.request.post(f"{stack.base}/integrations/{integration}/sync", form={"csrf": "0" * 64})
    assert response.status == 403
    assert len(stack.a.call("GET", f"/api/v1/runs?integration={integration}")) == before
    # Nor an upload without the token as its first field.
    response = page.request.post(f"{stack.base}/plugins/upload", multipart={
        "component": {"name": "x.wasm", "mimeType": "application/wasm", "buffer": (PLUGINS / "scim.wasm").read_bytes()}})
    assert response.status == 403
    # Another site's form cannot sign a member in either.
    response = page.request.post(f"{stack.base}/sign-in", form={"key": stack.a.key, "token": "forged"})
    assert response.status == 403


def test_the_audit_log_filtered_and_verified(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.a.key)
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("console.sign-in")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("console.sign-in")
    assert all("console.sign-in" in text for text in rows.all_inner_texts())
    expect(rows.first).to_contain_text("(console, live key)")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".banner.good")).to_contain_text(re.compile(r"Intact: \d+ events"))
    accessible(page)
    shot(page, "audit")
    page.get_by_label("From").fill("2999-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No events match")).to_be_visible()
