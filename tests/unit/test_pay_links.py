"""Pay-later links: a clinician (or the platform's backend) e-mails the patient a link to
the hosted pay page for one open request. Its token (in the fragment, never a query
string) opens that request alone, and expires; the e-mail is in the patient's language
and sent once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.receipts import PayLinkMail, ReceiptMailing, Sent
from callpay.receipts.locales import negotiate
from callpay.receipts.pay_link import render_pay_link
from tests.support.events import http_event
from tests.support.fakes import InMemoryLedger, tokens
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import BODY, CLINICIAN, call, checkout, create

PAGE = "https://pay.example.com/pay/"


@pytest.fixture
def world(world: World) -> World:
    world.service.patient_page_url = PAGE
    return world


def send_link(pr_id: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    kw.setdefault("claims", CLINICIAN)
    return call(http_event("POST", f"/payment-requests/{pr_id}/pay-link", body, **kw))


def mailing(world: World) -> ReceiptMailing:
    from callpay import runtime  # noqa: PLC0415

    links = PayLinkMail(tokens=tokens(), page_url=PAGE, render=render_pay_link, negotiate=negotiate)
    return ReceiptMailing(
        book=runtime.receipt_book(), ledger=InMemoryLedger(), mailer=world.mailer,
        clock=world.clock, links=links,
    )  # fmt: skip


def link_in(text: str) -> str:
    (line,) = [word for word in text.split() if word.startswith(PAGE)]
    return line


def test_a_clinician_sends_a_link_for_an_open_request(world: World) -> None:
    _, created = create()
    world.clock.tick(5)
    status, shown = send_link(created["id"], {"email": "late@example.com", "locale": "de"})
    assert status == 202, shown
    expires = world.clock.now + timedelta(hours=72)
    assert shown["pay_link"] == {
        "sent_at": world.clock.now.isoformat().replace("+00:00", "Z"),
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }
    assert "late@example.com" not in str(shown)  # the address stays ours
    (job,) = world.queue.jobs
    assert job.kind == "pay_link" and job.payment_request_id == created["id"]
    assert world.store.audit_trail(created["id"])[-1].action == "pay_link.sent"
    assert world.notifier.pushed[-1].pay_link is not None


BACKEND = {"sub": "emr", "client_id": "emr", "org_id": "org-1",
           "scope": "callpay/invoices.read callpay/pay-links.write"}  # fmt: skip


def test_the_platforms_backend_sends_a_link_for_its_organisations_request(world: World) -> None:
    """The patient left the call: the platform's backend asks for the link, with its scope."""
    _, created = create()
    status, shown = send_link(created["id"], {"email": "late@example.com"}, claims=BACKEND)
    assert status == 202, shown
    assert shown["pay_link"] is not None
    (job,) = world.queue.jobs
    assert job.kind == "pay_link" and job.payment_request_id == created["id"]
    entry = world.store.audit_trail(created["id"])[-1]
    assert entry.action == "pay_link.sent"
    assert (entry.cause.actor, entry.cause.subject) == ("platform", "client:emr")
    assert world.notifier.pushed[-1].pay_link is not None


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        (BACKEND | {"scope": "callpay/invoices.read"}, "insufficient_scope"),
        (BACKEND | {"org_id": "org-2"}, "not_your_clinic"),
    ],
)
def test_a_backend_without_the_scope_or_of_another_organisation_sends_nothing(
    world: World, claims: dict[str, str], code: str
) -> None:
    _, created = create()
    status, answer = send_link(created["id"], {"email": "late@example.com"}, claims=claims)
    assert (status, answer["error"]["code"]) == (403, code)
    assert world.queue.jobs == []
    assert world.store.requests[created["id"]].pay_link is None


def test_the_email_links_the_page_for_that_request_with_the_token_in_the_fragment(
    world: World,
) -> None:
    _, created = create()
    send_link(created["id"], {"email": "late@example.com", "locale": "fr"})
    (job,) = world.queue.jobs
    assert mailing(world).send(job) is Sent.SENT
    (mail,) = world.mailer.outbox
    assert mail["to"] == "late@example.com"
    assert mail["subject"] == "Votre lien de paiement"  # the clinic gave no legal name
    assert "80,00\u00a0$AU" in mail["text"] and "Consultation" in mail["text"]
    url = urlsplit(link_in(mail["text"]))
    assert url.query == ""  # never a query string: servers would log it
    given = parse_qs(url.fragment)
    assert given["call_id"] == ["call-1"] and given["payment_request_id"] == [created["id"]]
    grant = tokens().verify(given["token"][0])
    assert grant.payment_request_id == created["id"] and grant.call_id == "call-1"
    assert f'href="{link_in(mail["text"])}"' in mail["html"].replace("&amp;", "&")
    # Delivered again (SQS at least once): not sent again.
    assert mailing(world).send(job) in {Sent.SENT, Sent.ALREADY_SENT}


def test_the_link_is_the_same_on_a_retry_and_is_never_stored(world: World) -> None:
    _, created = create()
    send_link(created["id"], {"email": "late@example.com"})
    (job,) = world.queue.jobs
    first, second = mailing(world), mailing(world)
    first.send(job)
    second.send(job)
    texts = [m["text"] for m in world.mailer.outbox]
    assert len(texts) == 2 and link_in(texts[0]) == link_in(texts[1])
    token = parse_qs(urlsplit(link_in(texts[0])).fragment)["token"][0]
    assert token not in world.store.requests[created["id"]].model_dump_json()


def test_the_links_token_opens_that_request_alone(world: World) -> None:
    _, other = create()
    _, created = create()
    send_link(created["id"], {"email": "late@example.com"})
    mailing(world).send(world.queue.jobs[-1])
    token = parse_qs(urlsplit(link_in(world.mailer.outbox[0]["text"])).fragment)["token"][0]
    assert call(http_event("GET", f"/payment-requests/{created['id']}", token=token))[0] == 200
    status, body = call(http_event("GET", f"/payment-requests/{other['id']}", token=token))
    assert status == 404 and body["error"]["code"] == "payment_request_not_found"
    status, listed = call(http_event("GET", "/calls/call-1/payment-requests", token=token))
    assert status == 200 and [r["id"] for r in listed["payment_requests"]] == [created["id"]]
    assert checkout(other["id"], {"email": "p@example.com"}, token=token)[0] == 404
    status, paying = checkout(created["id"], {"email": "p@example.com"}, token=token)
    assert status == 200 and paying["client_secret"].startswith("pi_2")
    assert send_link(created["id"], {}, claims=None, token=token)[0] == 403
    access = http_event(
        "POST", "/calls/call-1/patient-access", {"clinic_id": "clinic-1"}, token=token
    )
    assert call(access)[0] == 403


def test_an_expired_link_is_refused(world: World) -> None:
    _, created = create()
    world.clock.now -= timedelta(hours=73)  # sent 73 hours ago: 72 hours is the limit
    send_link(created["id"], {"email": "late@example.com"})
    mailing(world).send(world.queue.jobs[-1])
    token = parse_qs(urlsplit(link_in(world.mailer.outbox[0]["text"])).fragment)["token"][0]
    status, body = call(http_event("GET", f"/payment-requests/{created['id']}", token=token))
    assert status == 401 and body["error"]["code"] == "token_expired"
    status, body = checkout(created["id"], {"email": "p@example.com"}, token=token)
    assert status == 401 and body["error"]["code"] == "token_expired"


def test_by_default_the_link_goes_where_the_patient_wanted_receipts(world: World) -> None:
    _, created = create()
    checkout(created["id"], {"email": "known@example.com", "locale": "ja"})
    status, _ = send_link(created["id"])
    assert status == 202
    mailing(world).send(world.queue.jobs[-1])
    (mail,) = world.mailer.outbox
    assert mail["to"] == "known@example.com" and "お支払いリンク" in mail["subject"]


@pytest.mark.parametrize(("state", "body", "status", "code"), [
    ("open", {}, 422, "email_required"),
    ("open", {"email": "not-an-email"}, 422, "invalid_request"),
    ("open", {"email": "p@example.com", "extra": 1}, 422, "invalid_request"),
    ("paid", {"email": "p@example.com"}, 409, "not_payable"),
    ("canceled", {"email": "p@example.com"}, 409, "not_payable"),
])  # fmt: skip
def test_a_link_only_for_an_open_request_and_a_known_address(
    world: World, state: str, body: dict[str, Any], status: int, code: str
) -> None:
    _, created = create()
    if state == "paid":
        delivered = intent_event("payment_intent.succeeded", "pi_1", created["id"])
        world.events.apply(StripeEvent.model_validate(delivered))
    elif state == "canceled":
        call(http_event("POST", f"/payment-requests/{created['id']}/cancel", claims=CLINICIAN))
    before = world.store.get(created["id"])
    queued = len(world.queue.jobs)
    answer = send_link(created["id"], body)
    assert answer[0] == status and answer[1]["error"]["code"] == code
    assert world.store.get(created["id"]) == before and len(world.queue.jobs) == queued


def test_a_link_for_a_request_paid_meanwhile_is_not_sent(world: World) -> None:
    _, created = create()
    send_link(created["id"], {"email": "late@example.com"})
    paid = intent_event("payment_intent.succeeded", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(paid))
    assert mailing(world).send(world.queue.jobs[0]) is Sent.NOT_PAYABLE
    assert world.mailer.outbox == []


def test_an_older_link_replaced_before_it_went_is_not_sent(world: World) -> None:
    _, created = create()
    send_link(created["id"], {"email": "first@example.com"})
    send_link(created["id"], {"email": "second@example.com"})
    old, new = world.queue.jobs
    assert mailing(world).send(old) is Sent.SUPERSEDED
    assert mailing(world).send(new) is Sent.SENT
    assert [m["to"] for m in world.mailer.outbox] == ["second@example.com"]


def test_a_hold_link_asks_to_authorise_and_a_renewed_hold_says_why(world: World) -> None:
    _, created = create(BODY | {"capture_method": "manual"})
    send_link(created["id"], {"email": "late@example.com"})
    mailing(world).send(world.queue.jobs[-1])
    assert "authorise a hold of A$80.00" in world.mailer.outbox[-1]["text"]
    held = intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"])
    world.events.apply(StripeEvent.model_validate(held))
    call(http_event("POST", f"/payment-requests/{created['id']}/reauthorize", claims=CLINICIAN))
    send_link(created["id"], {"email": "late@example.com"})
    mailing(world).send(world.queue.jobs[-1])
    assert "authorise your card again" in world.mailer.outbox[-1]["text"]
