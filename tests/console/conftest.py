"""The admin console in a real browser: `hrsync serve` and the emulators
(`hrsync-lab emulate`: Personio with the demo company, a SCIM app) on
loopback, two tenants, and Debian's Chromium driven by Playwright.

Run by scripts/console-tests (scripts/test calls it). Screenshots of each
screen go to docs/console/ when HRSYNC_SCREENSHOTS is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "target" / "wasm32-wasip2" / "plugin"
BINARY = Path(os.environ.get("HRSYNC_BIN", ROOT / "target" / "debug" / "hrsync"))
LAB = Path(os.environ.get("HRSYNC_LAB_BIN", ROOT / "target" / "debug" / "hrsync-lab"))
AXE = ROOT / ".tools" / "console" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "console"

PERSONIO_ID, PERSONIO_SECRET, SCIM_TOKEN = "demo-client", "demo-secret", "demo-token"


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed (scripts/console-tests installs Debian's package)")


def wait_for_line(process: subprocess.Popen[str], pattern: str, timeout: float = 30) -> re.Match[str]:
    """Reads the process's output until a line matches."""
    deadline = time.time() + timeout
    seen = []
    assert process.stdout is not None
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise RuntimeError(f"no line matching {pattern!r}; output was:\n{''.join(seen)}")


@dataclass
class Tenant:
    name: str
    key: str
    base: str
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        return api(self.base, method, path, self.key, body, raw)


def api(base: str, method: str, path: str, token: str, body: Any = None, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"authorization": f"Bearer {token}"}
    if raw is not None:
        headers["content-type"] = "application/wasm"
    elif body is not None:
        headers["content-type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode()}") from None


@dataclass
class Stack:
    base: str
    personio: str
    scim: str
    operator: str
    a: Tenant
    b: Tenant
    log: Path


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    data = Path(tempfile.mkdtemp(prefix="hrsync-console-"))
    operator = "op_console_" + os.urandom(8).hex()
    emulators = subprocess.Popen(
        [str(LAB), "emulate", "--personio-port", "0", "--scim-port", "0", "--tiny-hr-port", "0", "--tiny-app-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    personio = wait_for_line(emulators, r"Personio emulator: (http://\S+)").group(1)
    scim = wait_for_line(emulators, r"SCIM app:\s+(http://\S+)").group(1)
    log = data / "serve.log"
    env = dict(
        os.environ,
        HRSYNC_OPERATOR_TOKEN=operator,
        HRSYNC_EGRESS_ALLOW="127.0.0.1",
        HRSYNC_SCHEDULER_TICK_MS="200",
        RUST_LOG=os.environ.get("RUST_LOG", "info"),
    )
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(BINARY), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data / "data")],
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            env=env,
        )
    base = wait_for_line(server, r"listening on (http://\S+)").group(1).rstrip("/")
    tenants = []
    for name in ("Acme GmbH", "Globex Ltd"):
        created = api(base, "POST", "/api/v1/tenants", operator, {"name": name, "owner_email": f"owner@{name.split()[0].lower()}.example"})
        tenant = Tenant(name, created["key"]["secret"], base)
        for wasm in ("personio", "scim", "scope_rule", "team_map", "script_rule"):
            uploaded = tenant.call("POST", "/api/v1/plugins", raw=(PLUGINS / f"{wasm}.wasm").read_bytes())
            tenant.ids[uploaded["name"]] = uploaded["version"]
        tenants.append(tenant)
    try:
        yield Stack(base, personio, scim, operator, tenants[0], tenants[1], log)
    finally:
        server.terminate()
        emulators.terminate()
        server.wait(10)
        emulators.wait(10)
        panicked = "panicked" in log.read_text()
        shutil.rmtree(data, ignore_errors=True)
        assert not panicked, "hrsync serve panicked during the browser tests"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    # Any CSP violation, script error or missing asset fails the test (a
    # page answered with an error status is what some tests ask for).
    opened.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load resource") else None,
    )
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}")
        if r.status >= 400 and r.request.resource_type not in ("document", "fetch", "xhr")
        else None,
    )
    yield opened
    context.close()
    assert not errors, f"the browser reported errors: {errors}"


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(base + "/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/integrations")


def shot(page: Page, name: str) -> None:
    """A screenshot for the README (docs/console/) when asked for."""
    if os.environ.get("HRSYNC_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def accessible(page: Page) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    # Evaluated through the DevTools protocol: the console's CSP allows no
    # inline script, and the test must not weaken it.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(bad)
