"""A minimal page paying with the Stripe.js stand-in, as a test drives it.

The page (harness.html) is served by a small server of its own at `http://localhost:<port>`
while the stand-in is at `http://127.0.0.1:<port>`: another origin, as a frontend's dev
server would be, so the stand-in's frames run cross-origin as Stripe's do and their
postMessage origin checks are exercised for real. (A page Playwright answers itself
would count as a public site, which Chromium forbids to load from loopback.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import FrameLocator, Page

PAGE = (Path(__file__).parent / "harness.html").read_text()
# What video SDKs embed: frames without a name (localstripe's Stripe.js crashed on them).
UNNAMED_IFRAMES = '<iframe title="Video call" srcdoc="<p>video</p>"></iframe>\n<iframe></iframe>'
CARD_FRAME = 'iframe[title="Secure payment input frame"]'
CHALLENGE_FRAME = 'iframe[title="3D Secure authentication"]'


@dataclass
class Checkout:
    """What callpay's checkout hands the patient's page."""

    client_secret: str
    publishable_key: str
    stripe_account: str

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Checkout:
        return cls(answer["client_secret"], answer["publishable_key"], answer["stripe_account"])

    @property
    def intent_id(self) -> str:
        return self.client_secret.partition("_secret_")[0]


@contextmanager
def harness_site(stripe_js_url: str) -> Iterator[str]:
    """Serve the harness at `/` and, with unnamed iframes, at `/with-iframes`; its origin."""
    plain = PAGE.replace("__STRIPE_JS_URL__", stripe_js_url)
    pages = {"/": plain, "/with-iframes": plain.replace("<!--IFRAMES-->", UNNAMED_IFRAMES)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not here").encode())

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="harness-site", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class HarnessPage:
    def __init__(self, page: Page, origin: str, path: str = "/") -> None:
        self.page = page
        self.url = origin + path

    def open(self, checkout: Checkout) -> HarnessPage:
        self.page.goto(self.url)
        self.page.evaluate(
            "(o) => window.harness.mount(o)",
            {"publishableKey": checkout.publishable_key,
             "stripeAccount": checkout.stripe_account,
             "clientSecret": checkout.client_secret},
        )  # fmt: skip
        return self

    @property
    def card(self) -> FrameLocator:
        return self.page.frame_locator(CARD_FRAME)

    @property
    def challenge(self) -> FrameLocator:
        return self.page.frame_locator(CHALLENGE_FRAME)

    def enter_card(self, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
        self.card.get_by_label("Card number").fill(number)
        self.card.get_by_label("Expiration date").fill(expiry)
        self.card.get_by_label("Security code").fill(cvc)

    def pay(self) -> None:
        self.page.get_by_role("button", name="Pay").click()

    @property
    def status(self) -> str:
        return self.page.locator("#status").inner_text()

    def outcome(self) -> str:
        """What the page says once confirmPayment has answered."""
        self.page.wait_for_function(
            "() => !['', 'Paying…'].includes(document.getElementById('status').textContent)"
        )
        return self.status

    def result(self, index: int = -1) -> dict[str, Any]:
        """confirmPayment's answer (the last one by default)."""
        results: list[dict[str, Any]] = self.page.evaluate("() => window.harness.results")
        return results[index]

    def changes(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.page.evaluate("() => window.harness.changes")
        return found

    def wait_for_change(self, complete: bool, timeout_ms: float = 5000) -> dict[str, Any]:
        """The element's latest change event once it says `complete` (events come from the
        card frame by postMessage, a moment after the typing)."""
        self.page.wait_for_function(
            "(complete) => { const c = window.harness.changes;"
            " return c.length > 0 && c[c.length - 1].complete === complete; }",
            arg=complete,
            timeout=timeout_ms,
        )
        return self.changes()[-1]
