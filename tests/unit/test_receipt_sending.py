"""Sending receipts exactly once, over in-memory ports (the real renderer)."""

from __future__ import annotations

import pytest

from callpay.api_models import PaymentRequestIn
from callpay.domain.access import Clinician
from callpay.domain.payment_request import ChargeDetails, Status
from callpay.domain.receipt_job import ReceiptJob
from callpay.domain.stripe_objects import StripeEvent
from callpay.logic.receipts import ReceiptBook, ReceiptInFlight, ReceiptMailing, Sent
from callpay.receipts.locales import negotiate
from callpay.receipts.render import render
from request_payment.handler import lambda_handler
from tests.support.events import LambdaContext, clinician_claims, http_event
from tests.support.fakes import FakeMailer, InMemoryLedger
from tests.support.stripe_events import intent_event
from tests.unit.conftest import World

CLINICIAN = Clinician(
    sub="clin-1", org_id="org-1", role="team_member", clinic_ids=frozenset({"clinic-1"})
)


def receipts(world: World) -> tuple[ReceiptMailing, FakeMailer, InMemoryLedger]:
    mailer, ledger = FakeMailer(), InMemoryLedger()
    book = ReceiptBook(
        store=world.store, gateway=world.gateway, render=render, negotiate=negotiate,
        clock=world.clock,
    )  # fmt: skip
    return ReceiptMailing(book, ledger, mailer, world.clock), mailer, ledger


def paid(world: World, email: str | None = "patient@example.com", locale: str = "de") -> str:
    clinic = world.store.clinics["clinic-1"]
    world.store.clinics["clinic-1"] = clinic.model_copy(update={"default_currency": "eur"})
    body = PaymentRequestIn(
        clinic_id="clinic-1", amount=12345, currency="eur", description="Beratung"
    )
    request, _ = world.service.create(CLINICIAN, "call-1", body, None)
    if email:
        world.store.requests[request.id] = request.model_copy(
            update={"receipt_email": email, "locale": locale}
        )
    event = intent_event("payment_intent.succeeded", "pi_1", request.id, amount=12345)
    world.events.apply(StripeEvent.model_validate(event))
    return request.id


def test_a_succeeded_webhook_queues_a_receipt_job(world: World) -> None:
    pr_id = paid(world)
    assert world.queue.jobs == [ReceiptJob(payment_request_id=pr_id)]


def test_one_email_however_often_the_job_comes(world: World) -> None:
    service, mailer, _ = receipts(world)
    job = ReceiptJob(payment_request_id=paid(world))
    assert service.send(job) is Sent.SENT
    assert service.send(job) is Sent.ALREADY_SENT
    assert len(mailer.outbox) == 1
    email = mailer.outbox[0]
    assert email["to"] == "patient@example.com"
    assert "zahlungsbeleg" in email["subject"].lower()
    assert "123,45" in email["text"] and "4242" in email["text"]


def test_a_refused_send_is_released_and_retried_once(world: World) -> None:
    service, mailer, ledger = receipts(world)
    job = ReceiptJob(payment_request_id=paid(world))
    mailer.fail_next = True
    with pytest.raises(RuntimeError):
        service.send(job)
    assert ledger.states == {}  # nothing marked sent, the claim given back
    assert service.send(job) is Sent.SENT
    assert len(mailer.outbox) == 1


def test_a_receipt_being_sent_elsewhere_is_retried_later(world: World) -> None:
    service, _, ledger = receipts(world)
    job = ReceiptJob(payment_request_id=paid(world))
    ledger.states[job.key] = "sending"
    with pytest.raises(ReceiptInFlight):
        service.send(job)


def test_nothing_is_sent_without_an_address_or_before_payment(world: World) -> None:
    service, mailer, _ = receipts(world)
    assert service.send(ReceiptJob(payment_request_id=paid(world, email=None))) is Sent.NO_ADDRESS
    body = PaymentRequestIn(clinic_id="clinic-1", amount=5000, currency="eur", description="x")
    unpaid, _ = world.service.create(CLINICIAN, "call-2", body, None)
    assert unpaid.status is Status.REQUESTED
    assert service.send(ReceiptJob(payment_request_id=unpaid.id)) is Sent.NOT_PAID
    assert mailer.outbox == []


def test_each_refund_gets_its_own_receipt_once(world: World) -> None:
    service, mailer, _ = receipts(world)
    pr_id = paid(world, locale="en")
    stored = world.store.requests[pr_id]
    world.store.requests[pr_id] = stored.model_copy(
        update={"status": Status.PARTIALLY_REFUNDED, "amount_refunded": 5000}
    )
    first = ReceiptJob(
        payment_request_id=pr_id, kind="refund", refund_id="re_A1", refunded_total=2000,
        refunded_at=world.clock.now,
    )  # fmt: skip
    second = first.model_copy(update={"refund_id": "re_B2", "refunded_total": 5000})
    assert [service.send(job) for job in (first, second, first)] == [
        Sent.SENT,
        Sent.SENT,
        Sent.ALREADY_SENT,
    ]
    assert len(mailer.outbox) == 2
    assert all("refund" in email["subject"].lower() for email in mailer.outbox)
    number = f"RF-{world.clock.now:%Y%m%d}-{pr_id[3:11].upper()}-RE_A1"
    assert number in mailer.outbox[0]["subject"] and number in mailer.outbox[0]["text"]
    assert "€20.00" in mailer.outbox[0]["text"] and "€50.00" in mailer.outbox[1]["text"]


def view_receipt(pr_id: str) -> int:
    event = http_event("GET", f"/payment-requests/{pr_id}/receipt", claims=clinician_claims())
    response = lambda_handler(event, LambdaContext())
    assert "4242" in response["body"]
    return int(response["statusCode"])


def test_the_receipt_page_asks_stripe_for_the_card_once_then_reads_our_record(
    world: World,
) -> None:
    pr_id = paid(world)
    assert [view_receipt(pr_id) for _ in range(3)] == [200, 200, 200]
    assert world.gateway.charge_lookups == 1
    charge = world.store.get(pr_id).charge  # type: ignore[union-attr]
    assert charge is not None and (charge.card_brand, charge.card_last4) == ("visa", "4242")
    mailing, mailer, _ = receipts(world)
    mailing.send(ReceiptJob(payment_request_id=pr_id))
    assert len(mailer.outbox) == 1 and world.gateway.charge_lookups == 1


def test_a_card_the_event_brought_needs_no_stripe_call_at_all(world: World) -> None:
    pr_id = paid(world)
    card = {"charge_id": "ch_9", "card_brand": "mastercard", "card_last4": "4444"}
    world.store.requests[pr_id] = world.store.requests[pr_id].model_copy(
        update={"charge": ChargeDetails(**card)}
    )
    mailing, mailer, _ = receipts(world)
    mailing.send(ReceiptJob(payment_request_id=pr_id))
    assert world.gateway.charge_lookups == 0 and "4444" in mailer.outbox[0]["text"]


# --- the receipt page's language ------------------------------------------------------------


def receipt_page(
    pr_id: str, accept_language: str | None = None, query_locale: str | None = None
) -> tuple[int, str, str]:
    headers = {"accept-language": accept_language} if accept_language else {}
    event = http_event(
        "GET", f"/payment-requests/{pr_id}/receipt", claims=clinician_claims(), headers=headers
    )
    if query_locale is not None:
        event["rawQueryString"] = f"locale={query_locale}"
        event["queryStringParameters"] = {"locale": query_locale}
    response = lambda_handler(event, LambdaContext())
    return response["statusCode"], response["headers"]["Content-Language"], response["body"]


@pytest.mark.parametrize(
    ("checkout_locale", "accept_language", "query_locale", "clinic_default", "expected"),
    [
        # ?locale= first: the patient chose it on the page.
        ("de", "fr-FR,fr;q=0.9", "ar", "it", "ar"),
        # Then the locale the patient paid in, over the browser's languages...
        ("de", "fr-FR,fr;q=0.9", None, "it", "de"),
        # ...which come before the clinic's default...
        (None, "ku, fr-CH;q=0.8", None, "it", "fr"),
        (None, None, None, "it", "it"),
        # ...each skipped when no catalog serves it, down to English.
        ("tlh", "ku", "x-pirate", "uz-Cyrl", "en"),
        ("zh-HK", None, None, None, "zh-Hant-HK"),
    ],
)
def test_the_receipt_page_speaks_the_patients_choice_then_browser_then_clinic(
    world: World,
    *,
    checkout_locale: str | None,
    accept_language: str | None,
    query_locale: str | None,
    clinic_default: str | None,
    expected: str,
) -> None:
    pr_id = paid(world, locale=checkout_locale or "")
    if checkout_locale is None:
        world.store.requests[pr_id] = world.store.requests[pr_id].model_copy(
            update={"locale": None}
        )
    clinic = world.store.clinics["clinic-1"]
    world.store.clinics["clinic-1"] = clinic.model_copy(update={"default_locale": clinic_default})

    status, content_language, html = receipt_page(pr_id, accept_language, query_locale)

    assert status == 200
    assert content_language == expected
    assert f'<html lang="{expected}" dir="{"rtl" if expected == "ar" else "ltr"}">' in html


def test_the_emailed_receipt_speaks_the_checkout_locale_then_the_clinics(world: World) -> None:
    service, mailer, _ = receipts(world)
    clinic = world.store.clinics["clinic-1"]
    world.store.clinics["clinic-1"] = clinic.model_copy(update={"default_locale": "sv-FI"})
    pr_id = paid(world, locale="ku")  # no Kurmanji catalog: the clinic's Finland Swedish

    assert service.send(ReceiptJob(payment_request_id=pr_id)) is Sent.SENT
    email = mailer.outbox[0]
    assert str(email["subject"]).startswith("Ditt kvitto nr R-")
    assert '<html lang="sv-FI" dir="ltr">' in str(email["html"])
