"""Browser fixtures: Debian's Chromium, headless through Playwright, against the local stack.

The stack (`callpay dev`) starts once per session, as for tests/e2e. Chromium is the
system's (`make browser-deps` installs it with apt: Playwright's own browser download
cannot work here); axe-core comes from node_modules (package.json). `assert_accessible`
runs axe-core in every frame of a page and fails on serious or critical violations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from devtools.identity import LocalIdentityProvider
from devtools.paths import REPO_ROOT
from devtools.processes import bypass_proxies_for_loopback
from devtools.stack_process import StackProcess
from tests.e2e.conftest import LocalStack

CHROMIUM = Path(os.environ.get("CALLPAY_CHROMIUM", "/usr/bin/chromium"))
# Headless in a container, nothing fetched from the internet, loopback never proxied.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
]
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("callpay-browser")
    with pytest.MonkeyPatch.context() as environment:
        for name, value in bypass_proxies_for_loopback().items():
            environment.setenv(name, value)
        # As the deployed dev stage logs: every debug line goes past the log audit too.
        environment.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
        with StackProcess(state_dir) as endpoints:
            yield LocalStack(endpoints, LocalIdentityProvider.in_dir(state_dir), state_dir)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Chromium with apt")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own context); a script error on it fails the test."""
    context = browser.new_context(locale="en-AU", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # Shown with a failing test's captured output.
    opened.on("console", lambda message: print(f"console {message.type}: {message.text}"))
    opened.on("requestfailed", lambda request: print(f"request failed: {request.url}"))
    yield opened
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, str]]:
    """A video platform's pages (tests/browser/panels.py, host_site)."""
    from tests.browser.panels import host_site  # noqa: PLC0415

    with host_site() as pages:
        yield pages


@pytest.fixture
def patient_page(browser: Browser) -> Iterator[Page]:
    """The other side of the call: the patient's own browser, failing on script errors."""
    from tests.browser.panels import new_page  # noqa: PLC0415

    context, opened = new_page(browser)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"script errors on the patient's page: {errors}"


@pytest.fixture(scope="session")
def harness_origin(stack: LocalStack) -> Iterator[str]:
    """Where the stand-in's own test page is served (tests/browser/harness.py)."""
    from tests.browser.harness import harness_site  # noqa: PLC0415

    with harness_site(stack.endpoints.stripe_js_url) as origin:
        yield origin


def assert_accessible(page: Page, what: str) -> None:
    """axe-core in every frame of the page; no serious or critical violations."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make browser-deps` runs npm ci")
    source = AXE.read_text()
    found: list[dict[str, Any]] = []
    for frame in page.frames:
        if frame.is_detached():
            continue
        # Evaluated through the DevTools protocol, so the frames' CSP does not block it.
        frame.evaluate(source + "\n;0")
        result = frame.evaluate(
            "() => axe.run(document, {iframes: false, resultTypes: ['violations']})"
        )
        found += [
            {"frame": frame.url.split("#")[0], "id": v["id"], "impact": v["impact"],
             "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]
            if v["impact"] in FAILING_IMPACTS
        ]  # fmt: skip
    assert found == [], f"axe-core on {what}:\n{json.dumps(found, indent=2)}"
