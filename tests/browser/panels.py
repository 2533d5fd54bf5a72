"""The panels as people use them in the browser tests: a clinician in a video call's page,
a patient on the hosted pay page.

The clinician's page stands for a video platform's call screen: served by a small server
of its own at `http://localhost:<port>` (another origin than callpay's gateway, as a
platform's would be) and importing `/app/callpay.js` from the gateway. The patient opens
`patient_url`, the link patient access answers. Screenshots go to $CALLPAY_SCREENSHOTS
(`make screenshots` sets it to docs/images/), else to a scratch folder, so a test run
never rewrites the committed pictures.
"""

from __future__ import annotations

import html
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, FrameLocator, Locator, Page
from playwright.sync_api import expect as see

from devtools.local_client import direct_session, expect
from tests.browser.conftest import assert_accessible
from tests.e2e.conftest import LocalStack

IMAGES = Path(
    os.environ.get("CALLPAY_SCREENSHOTS") or Path(tempfile.gettempdir()) / "callpay-screenshots"
)
CARD_FRAME = 'iframe[title="Secure payment input frame"]'
CHALLENGE_FRAME = 'iframe[title="3D Secure authentication"]'
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0341"
THREE_D_SECURE_CARD = "4000 0025 0000 3155"
# What video SDKs embed: frames without a name (titled, so axe-core judges only ours).
FRAME_DOC = "<!doctype html><html lang=en><title>{0}</title><p>{0}</p>"
UNNAMED_IFRAMES = "\n".join(
    f'<iframe title="{title}" srcdoc="{FRAME_DOC.format(title)}"></iframe>'
    for title in ("Video call", "Call controls")
)

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Video call</title>
<script type="module" src="{module}"></script></head>
<body><main><h1>Video call</h1>{iframes}
<{element} {attributes}></{element}>
</main></body></html>
"""


@contextmanager
def host_site() -> Iterator[dict[str, str]]:
    """A video platform's pages: PUT one at a path (the dict), served at `origin + path`."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not here").encode())

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="host-site", daemon=True)
    thread.start()
    pages["origin"] = f"http://localhost:{server.server_address[1]}"
    try:
        yield pages
    finally:
        server.shutdown()
        server.server_close()


def host_page(stack: LocalStack, element: str, iframes: bool = False, **attributes: str) -> str:
    e = stack.endpoints
    given = {"api-base": e.http_url, "ws-url": e.ws_url, "stripe-js-url": e.stripe_js_url}
    given |= {name.replace("_", "-"): value for name, value in attributes.items()}
    return HOST_PAGE.format(
        module=f"{e.http_url}/app/callpay.js",
        element=element,
        attributes=" ".join(f'{name}="{html.escape(value)}"' for name, value in given.items()),
        iframes=UNNAMED_IFRAMES if iframes else "",
    )


def screenshot(page: Page, name: str) -> None:
    """<name>.png in IMAGES: what the person sees at this step (docs/frontend.md)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=True)


def tab_to(page: Page, target: Locator, presses: int = 40) -> None:
    """Tab until `target` has focus: it is reachable by keyboard alone."""
    for _ in range(presses):
        if target.evaluate("(el) => el.getRootNode().activeElement === el"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} was not reached with {presses} Tab presses")


def press(page: Page, target: Locator, key: str = "Enter") -> None:
    tab_to(page, target)
    page.keyboard.press(key)


@dataclass
class Consultation:
    """One call: its clinician (token and API) and the patient's link."""

    stack: LocalStack
    call_id: str
    clinician_token: str
    patient_url: str
    patient_token: str
    email: str

    @classmethod
    def start(cls, stack: LocalStack) -> Consultation:
        call_id = f"call-{uuid.uuid4().hex[:10]}"
        token = stack.clinician_token(sub="dr-lee")
        access = expect(
            stack.api(token).post(
                f"/calls/{call_id}/patient-access", {"clinic_id": stack.clinic_id}
            ),
            201,
            "patient access",
        )
        return cls(stack, call_id, token, access["patient_url"], access["token"],
                   f"patient-{uuid.uuid4().hex[:8]}@example.com")  # fmt: skip

    def request(self, request_id: str) -> dict[str, Any]:
        """The request as the API stores it."""
        found: dict[str, Any] = expect(
            self.stack.api(self.clinician_token).get(f"/payment-requests/{request_id}"),
            200,
            "the stored request",
        )
        return found

    def requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = expect(
            self.stack.api(self.clinician_token).get(f"/calls/{self.call_id}/payment-requests"),
            200,
            "the call's requests",
        )["payment_requests"]
        return found

    def close_sockets(self) -> int:
        """Close the call's sockets from the server's side, as API Gateway does after two
        hours or ten idle minutes (DELETE on @connections); how many were open."""
        import boto3  # noqa: PLC0415

        from callpay.adapters.dynamodb_connections import DynamoDBConnectionStore  # noqa: PLC0415

        e = self.stack.endpoints
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=e.aws_endpoint_url, region_name=e.region,
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        store = DynamoDBConnectionStore(dynamodb, e.environment["TABLE_NAME"])
        connections = store.by_call(self.call_id)
        with direct_session() as session:
            for connection in connections:
                session.delete(f"{e.http_url}/@connections/{connection.connection_id}", timeout=10)
        return len(connections)


def wait_until(check: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class ClinicianScreen:
    """The clinician panel in the video platform's page."""

    def __init__(
        self, page: Page, site: dict[str, str], consultation: Consultation, *,
        iframes: bool = False, locale: str = "en", currency: str = "aud",
    ) -> None:  # fmt: skip
        self.page = page
        path = f"/clinician-{consultation.call_id}"
        site[path] = host_page(
            consultation.stack, "callpay-clinician-panel", iframes,
            call_id=consultation.call_id, token=consultation.clinician_token,
            clinic_id=consultation.stack.clinic_id, currency=currency, locale=locale,
        )  # fmt: skip
        self.url = site["origin"] + path

    def open(self) -> ClinicianScreen:
        self.page.goto(self.url)
        see(self.panel.get_by_text("Updates live")).to_be_visible()
        return self

    @property
    def panel(self) -> Locator:
        return self.page.locator("callpay-clinician-panel")

    def heading(self) -> str:
        return self.panel.get_by_role("heading", level=2).first.inner_text()

    def request_payment(self, amount: str, description: str, hold: bool = False,
                        shot: str | None = None) -> None:  # fmt: skip
        press(self.page, self.panel.get_by_role("button", name="Request payment"))
        see(self.panel.get_by_role("heading", name="Request payment")).to_be_focused()
        assert_accessible(self.page, "the request form")
        self.panel.get_by_label("Amount in AUD").fill(amount)
        self.panel.get_by_label("What the payment is for").fill(description)
        if hold:
            self.panel.get_by_label("Place a hold", exact=False).check()
        if shot:
            screenshot(self.page, shot)
        press(self.page, self.panel.get_by_role("button", name="Send request"))

    def row(self, description: str) -> Locator:
        return self.panel.locator("li", has_text=description)

    def live_region(self) -> Locator:
        return self.panel.locator("[role=status][aria-live]")


class PatientScreen:
    """The hosted pay page, opened from the patient's link."""

    def __init__(self, page: Page, consultation: Consultation) -> None:
        self.page = page
        self.consultation = consultation

    def open(self, url: str | None = None) -> PatientScreen:
        self.page.goto(url or self.consultation.patient_url)
        see(self.panel.get_by_text("Updates live")).to_be_visible()
        return self

    @property
    def panel(self) -> Locator:
        return self.page.locator("callpay-patient-panel")

    @property
    def card(self) -> FrameLocator:
        return self.page.frame_locator(CARD_FRAME)

    @property
    def challenge(self) -> FrameLocator:
        return self.page.frame_locator(CHALLENGE_FRAME)

    def pay_now(self, description: str) -> None:
        row = self.panel.locator("li", has_text=description)
        press(self.page, row.get_by_role("button", name="Pay now"))
        see(self.panel.get_by_role("heading", name="What is your email address?")).to_be_focused()

    def give_email(self, email: str) -> None:
        self.panel.get_by_label("Email address").fill(email)
        press(self.page, self.panel.get_by_role("button", name="Continue"))
        see(self.panel.get_by_role("heading", name="Pay ", exact=False)).to_be_focused()

    def enter_card(self, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
        self.card.get_by_label("Card number").fill(number)
        self.card.get_by_label("Expiration date").fill(expiry)
        self.card.get_by_label("Security code").fill(cvc)

    def pay(self) -> None:
        self.panel.get_by_role("button", name="Pay ", exact=False).click()


def new_page(browser: Browser, locale: str = "en-AU") -> tuple[BrowserContext, Page]:
    """A second person's browser (the other side of the call), failing on script errors."""
    context = browser.new_context(locale=locale, viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda message: print(f"console {message.type}: {message.text}"))
    return context, page
