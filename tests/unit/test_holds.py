"""Holds with a known expiry: Stripe's `capture_before`, lapses by event in any API version
and either order, re-authorisation on the same request, and the hold sweeper (its clock
moved by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callpay.domain.payment_request import Cause, Status
from callpay.domain.stripe_objects import StripeEvent
from callpay.domain.transitions import StatusChange, transition
from callpay.logic.hold_sweeper import HoldSweeper
from callpay.logic.stripe_events import Outcome
from callpay.ports import Intent
from tests.support.events import http_event
from tests.support.stripe_events import API_VERSIONS, charge_object, event, intent_event
from tests.unit.conftest import World
from tests.unit.test_request_payment_api import BODY, CLINICIAN, call, create

HOLD = BODY | {"capture_method": "manual"}


def apply(world: World, delivered: dict[str, Any]) -> Outcome:
    return world.events.apply(StripeEvent.model_validate(delivered)).outcome


def authorised(world: World, capture_before: int | None = None, **kw: Any) -> str:
    _, created = create(HOLD)
    pr_id = str(created["id"])
    intent = world.store.get(pr_id).payment_intent_id  # type: ignore[union-attr]
    apply(world, intent_event("payment_intent.amount_capturable_updated", str(intent), pr_id, **kw))
    if capture_before is not None:
        charge = charge_object(str(intent), captured=None, capture_before=capture_before)
        apply(world, event("charge.succeeded", charge | {"captured": False}))
    assert world.store.get(pr_id).status is Status.AUTHORIZED  # type: ignore[union-attr]
    return pr_id


def view(pr_id: str) -> dict[str, Any]:
    status, body = call(http_event("GET", f"/payment-requests/{pr_id}", claims=CLINICIAN))
    assert status == 200
    return dict(body)


def at(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


# -- capture_before ----------------------------------------------------------------------


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_the_charge_gives_the_holds_deadline_in_every_version(
    world: World, api_version: str
) -> None:
    deadline = int(world.clock.now.timestamp()) + 6 * 86400
    pr_id = authorised(world, api_version=api_version, capture_before=deadline)
    shown = view(pr_id)
    assert shown["capture_before"] == at(deadline)
    assert shown["hold_expires_at"] == at(deadline)
    trail = [a.action for a in world.store.audit_trail(pr_id)]
    assert trail[-1] == "hold.capture_before"


def test_before_2022_11_15_the_intent_event_itself_carries_the_deadline(world: World) -> None:
    deadline = int(world.clock.now.timestamp()) + 5 * 86400
    _, created = create(HOLD)
    pr_id = created["id"]
    apply(
        world,
        intent_event(
            "payment_intent.amount_capturable_updated", "pi_1", pr_id,
            api_version="2020-08-27", capture_before=deadline,
        ),
    )  # fmt: skip
    assert view(pr_id)["capture_before"] == at(deadline)


def test_without_stripes_deadline_a_hold_lapses_seven_days_after_it_was_authorised(
    world: World,
) -> None:
    pr_id = authorised(world)
    shown = view(pr_id)
    assert shown["capture_before"] is None
    expected = world.clock.now + timedelta(days=7)
    assert shown["hold_expires_at"] == expected.isoformat().replace("+00:00", "Z")


def test_a_deadline_arriving_before_the_authorisation_is_kept(world: World) -> None:
    _, created = create(HOLD)
    deadline = int(world.clock.now.timestamp()) + 86400
    charge = charge_object("pi_1", captured=None, capture_before=deadline) | {"captured": False}
    assert apply(world, event("charge.succeeded", charge)) is Outcome.APPLIED
    apply(world, intent_event("payment_intent.amount_capturable_updated", "pi_1", created["id"]))
    assert view(created["id"])["hold_expires_at"] == at(deadline)


# -- lapses by event ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "api_version", "expected"),
    [
        ("expired", "2025-03-31.basil", "expired"),
        ("expired", "2026-10-28.endive", "expired"),
        ("automatic", "2024-06-20", "expired"),
        ("automatic", "2020-08-27", "expired"),
        ("automatic", None, "expired"),  # localstripe-like: no version, read as old
        ("automatic", "2025-03-31.basil", "canceled"),
        ("requested_by_customer", "2024-06-20", "canceled"),
        (None, "2026-10-28.endive", "canceled"),
    ],
)
def test_a_canceled_hold_says_whether_it_lapsed(
    world: World, reason: str | None, api_version: str | None, expected: str
) -> None:
    pr_id = authorised(world)
    canceled = intent_event(
        "payment_intent.canceled", "pi_1", pr_id, cancellation_reason=reason,
        api_version=api_version,
    )  # fmt: skip
    assert apply(world, canceled) is Outcome.APPLIED
    shown = view(pr_id)
    assert shown["status"] == "canceled" and shown["cancellation_reason"] == expected
    assert shown["hold_expires_at"] is None
    last = world.store.audit_trail(pr_id)[-1]
    assert last.action == ("hold.expired" if expected == "expired" else "status.canceled")
    assert world.notifier.pushed[-1].cancellation_reason == expected


def test_charge_expired_lapses_the_hold(world: World) -> None:
    pr_id = authorised(world)
    lapsed = charge_object("pi_1", captured=None) | {"captured": False, "status": "succeeded"}
    assert apply(world, event("charge.expired", lapsed)) is Outcome.APPLIED
    assert view(pr_id)["cancellation_reason"] == "expired"


@pytest.mark.parametrize("api_version", ["2024-06-20", "2025-03-31.basil"])
@pytest.mark.parametrize("canceled_first", [True, False])
def test_a_lapse_reported_twice_in_either_order_ends_expired_once(
    world: World, api_version: str, canceled_first: bool
) -> None:
    pr_id = authorised(world)
    reason = "expired" if api_version >= "2025-03-31" else "automatic"
    events = [
        intent_event(
            "payment_intent.canceled", "pi_1", pr_id, cancellation_reason=reason,
            api_version=api_version,
        ),
        event("charge.expired", charge_object("pi_1", captured=None, api_version=api_version)),
    ]  # fmt: skip
    if not canceled_first:
        events.reverse()
    outcomes = [apply(world, e) for e in [*events, *events]]
    assert outcomes == [Outcome.APPLIED, Outcome.STALE, Outcome.DUPLICATE, Outcome.DUPLICATE]
    request = world.store.get(pr_id)
    assert request is not None and request.status is Status.CANCELED
    assert request.cancellation_reason == "expired" and request.amount_refunded == 0
    assert [a.action for a in world.store.audit_trail(pr_id)].count("hold.expired") == 1


def test_a_lapse_never_undoes_a_capture(world: World) -> None:
    pr_id = authorised(world)
    assert (
        call(http_event("POST", f"/payment-requests/{pr_id}/capture", {}, claims=CLINICIAN))[0]
        == 200
    )
    late = intent_event("payment_intent.canceled", "pi_1", pr_id, cancellation_reason="expired")
    assert apply(world, late) is Outcome.STALE
    assert view(pr_id)["status"] == "succeeded"


# -- capture: full, partial, zero --------------------------------------------------------


@pytest.mark.parametrize(("amount", "status", "captured"), [
    (None, "succeeded", 8000), (8000, "succeeded", 8000), (2500, "succeeded", 2500),
    (0, "canceled", 0),
])  # fmt: skip
def test_a_hold_is_captured_whole_in_part_or_released(
    world: World, amount: int | None, status: str, captured: int
) -> None:
    pr_id = authorised(world)
    body = {} if amount is None else {"amount": amount}
    code, shown = call(
        http_event("POST", f"/payment-requests/{pr_id}/capture", body, claims=CLINICIAN)
    )
    assert code == 200 and shown["status"] == status and shown["amount_captured"] == captured
    assert shown["hold_expires_at"] is None
    if status == "canceled":
        assert shown["cancellation_reason"] == "released"
        assert world.gateway.canceled == ["pi_1"] and world.queue.jobs == []
    else:
        assert world.gateway.captured == {"pi_1": captured}
        assert [j.payment_request_id for j in world.queue.jobs] == [pr_id]


# -- re-authorisation --------------------------------------------------------------------


def reauthorize(pr_id: str, **kw: Any) -> tuple[int, Any]:
    kw.setdefault("claims", CLINICIAN)
    return call(http_event("POST", f"/payment-requests/{pr_id}/reauthorize", None, **kw))


def test_a_fresh_hold_releases_the_old_one_and_waits_for_the_patient_on_a_new_intent(
    world: World,
) -> None:
    pr_id = authorised(world, capture_before=int(world.clock.now.timestamp()) + 3600)
    world.clock.tick(60)
    status, shown = reauthorize(pr_id)
    assert status == 200
    assert shown["id"] == pr_id and shown["status"] == "requested" and shown["hold_attempt"] == 2
    assert shown["capture_before"] is None and shown["hold_expires_at"] is None
    assert world.gateway.canceled == ["pi_1"]  # the old hold is let go on Stripe
    assert world.gateway.keys[-1] == f"{pr_id}:cancel:v3"
    assert [c["idempotency_key"] for c in world.gateway.created] == [
        f"{pr_id}:create", f"{pr_id}:create:a2"
    ]  # fmt: skip
    request = world.store.get(pr_id)
    assert request is not None and request.payment_intent_id == "pi_2"
    assert world.store.audit_trail(pr_id)[-1].action == "hold.reauthorization_requested"
    assert world.notifier.pushed[-1].hold_attempt == 2
    assert len(world.store.requests) == 1  # one request, one history


def test_events_of_the_old_hold_change_nothing_after_a_fresh_one_is_asked_for(
    world: World,
) -> None:
    pr_id = authorised(world)
    reauthorize(pr_id)
    old = [
        intent_event("payment_intent.canceled", "pi_1", pr_id, cancellation_reason="expired"),
        intent_event("payment_intent.amount_capturable_updated", "pi_1", pr_id),
        intent_event("payment_intent.succeeded", "pi_1", pr_id),
    ]
    assert [apply(world, e) for e in old] == [Outcome.IGNORED] * 3
    assert view(pr_id)["status"] == "requested"
    new = intent_event("payment_intent.amount_capturable_updated", "pi_2", pr_id)
    assert apply(world, new) is Outcome.APPLIED
    assert view(pr_id)["status"] == "authorized"


def test_a_change_about_the_old_intent_is_stale_even_if_decided_on_a_reloaded_record(
    world: World,
) -> None:
    """A concurrent writer (the sweeper, an event) that read the record before the fresh
    hold was asked for re-decides on the new record: its change names the old intent."""
    pr_id = authorised(world)
    reauthorize(pr_id)
    request = world.store.get(pr_id)
    assert request is not None
    lapse = StatusChange(
        Status.CANCELED, Cause(actor="scheduler", subject="hold_sweeper"),
        intent_id="pi_1", cancellation_reason="expired",
    )  # fmt: skip
    assert transition(request, lapse, world.clock.now) is None


def test_a_lapsed_hold_can_be_asked_for_again(world: World) -> None:
    pr_id = authorised(world)
    apply(
        world, intent_event("payment_intent.canceled", "pi_1", pr_id, cancellation_reason="expired")
    )
    status, shown = reauthorize(pr_id)
    assert status == 200 and shown["status"] == "requested" and shown["cancellation_reason"] is None
    assert world.gateway.canceled == []  # nothing left to let go


@pytest.mark.parametrize("how", ["released", "canceled", "captured", "not a hold", "patient"])
def test_only_a_held_or_lapsed_hold_can_be_asked_for_again(world: World, how: str) -> None:
    if how == "not a hold":
        _, created = create()
        pr_id = created["id"]
    else:
        pr_id = authorised(world)
    kw: dict[str, Any] = {}
    if how == "released":
        call(
            http_event(
                "POST", f"/payment-requests/{pr_id}/capture", {"amount": 0}, claims=CLINICIAN
            )
        )
    elif how == "canceled":
        call(http_event("POST", f"/payment-requests/{pr_id}/cancel", None, claims=CLINICIAN))
    elif how == "captured":
        call(http_event("POST", f"/payment-requests/{pr_id}/capture", {}, claims=CLINICIAN))
    elif how == "patient":
        from tests.unit.test_request_payment_api import patient_token  # noqa: PLC0415

        kw = {"claims": None, "token": patient_token()}
    before = world.store.get(pr_id)
    status, body = reauthorize(pr_id, **kw)
    assert status == (403 if how == "patient" else 409), body
    assert body["error"]["code"] == ("clinician_only" if how == "patient" else "not_reauthorizable")
    assert world.store.get(pr_id) == before


def test_asking_twice_makes_one_fresh_intent(world: World) -> None:
    pr_id = authorised(world)
    first = reauthorize(pr_id)
    second = reauthorize(pr_id)
    assert first[0] == 200 and second[0] == 409
    assert len(world.gateway.created) == 2


# -- the hold sweeper --------------------------------------------------------------------


def sweeper(world: World) -> HoldSweeper:
    return HoldSweeper(
        store=world.store, gateway=world.gateway, notifier=world.notifier,
        receipts=world.queue, clock=world.clock, warn_before=timedelta(hours=24),
    )  # fmt: skip


def test_the_sweeper_warns_once_about_a_hold_near_its_deadline(world: World) -> None:
    deadline = int(world.clock.now.timestamp()) + 3 * 86400
    pr_id = authorised(world, capture_before=deadline)
    far = authorised(world, capture_before=deadline + 10 * 86400)
    assert sweeper(world).sweep().warned == []
    world.clock.tick(2 * 86400 + 3600)  # 23 hours left
    pushed = len(world.notifier.pushed)
    assert sweeper(world).sweep().warned == [pr_id]
    shown = view(pr_id)
    assert shown["expiry_warned_at"] is not None and shown["status"] == "authorized"
    assert world.store.audit_trail(pr_id)[-1].action == "hold.expiring"
    assert world.store.audit_trail(pr_id)[-1].cause.actor == "scheduler"
    assert [r.id for r in world.notifier.pushed[pushed:]] == [pr_id]
    # The platform hears of it too (signed event), with the deadline.
    (expiring,) = [e for e in world.store.announced if e.type == "payment_request.hold_expiring"]
    lapses = datetime.fromtimestamp(deadline, UTC).isoformat()
    assert (expiring.data["id"], expiring.data["hold_expires_at"]) == (pr_id, lapses)
    assert sweeper(world).sweep().warned == []  # once
    assert view(far)["expiry_warned_at"] is None


@pytest.mark.parametrize("stripe_says", ["canceled", "requires_capture"])
def test_the_sweeper_records_a_lapse_stripe_never_told_us_about(
    world: World, stripe_says: str
) -> None:
    deadline = int(world.clock.now.timestamp()) + 86400
    pr_id = authorised(world, capture_before=deadline)
    world.gateway.holds["pi_1"] = Intent(
        id="pi_1", status=stripe_says,
        capture_before=datetime.fromtimestamp(deadline, UTC),
    )  # fmt: skip
    world.clock.tick(86400 + 1)
    done = sweeper(world).sweep()
    assert done.expired == [pr_id]
    shown = view(pr_id)
    assert shown["status"] == "canceled" and shown["cancellation_reason"] == "expired"
    # Still held on Stripe past its deadline: let go, so nothing stays held.
    assert world.gateway.canceled == (["pi_1"] if stripe_says == "requires_capture" else [])
    trail = world.store.audit_trail(pr_id)
    assert trail[-1].action == "hold.expired" and trail[-1].cause.actor == "scheduler"
    assert world.notifier.pushed[-1].status is Status.CANCELED
    assert sweeper(world).sweep().expired == []  # out of the index: nothing twice
    # The event that was missed, arriving after all, changes nothing.
    late = intent_event("payment_intent.canceled", "pi_1", pr_id, cancellation_reason="expired")
    assert apply(world, late) is Outcome.STALE


def test_the_sweeper_waits_for_stripes_own_later_deadline(world: World) -> None:
    pr_id = authorised(world)  # no capture_before: 7 days assumed
    later = world.clock.now + timedelta(days=9)
    world.gateway.holds["pi_1"] = Intent(id="pi_1", status="requires_capture", capture_before=later)
    world.clock.tick(7 * 86400 + 60)
    done = sweeper(world).sweep()
    assert done.postponed == [pr_id] and done.expired == []
    assert view(pr_id)["hold_expires_at"] == later.isoformat().replace("+00:00", "Z")
    assert world.gateway.canceled == []


def test_a_capture_the_sweeper_finds_on_stripe_is_recorded_with_its_receipt(world: World) -> None:
    pr_id = authorised(world)
    world.gateway.holds["pi_1"] = Intent(id="pi_1", status="succeeded", amount_received=6000)
    world.clock.tick(8 * 86400)
    assert sweeper(world).sweep().captured == [pr_id]
    shown = view(pr_id)
    assert shown["status"] == "succeeded" and shown["amount_captured"] == 6000
    assert [j.payment_request_id for j in world.queue.jobs] == [pr_id]


def test_stripe_not_answering_leaves_the_hold_for_the_next_run(world: World) -> None:
    from callpay.domain.errors import UpstreamUnavailable  # noqa: PLC0415

    pr_id = authorised(world)
    world.clock.tick(8 * 86400)
    world.gateway.fail_with = UpstreamUnavailable("stripe_unavailable", "busy")
    assert sweeper(world).sweep().unreachable == [pr_id]
    assert view(pr_id)["status"] == "authorized"
    world.gateway.holds["pi_1"] = Intent(id="pi_1", status="canceled")
    assert sweeper(world).sweep().expired == [pr_id]


def test_the_sweeper_leaves_a_hold_renewed_meanwhile_alone(world: World) -> None:
    pr_id = authorised(world)
    world.clock.tick(8 * 86400)
    stale = world.store.get(pr_id)
    reauthorize(pr_id)
    assert stale is not None
    world.gateway.holds["pi_1"] = Intent(id="pi_1", status="canceled")

    class Frozen:
        """The index as a run saw it just before the fresh hold was asked for."""

        def __init__(self) -> None:
            self.real = world.store

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def holds_expiring(self, start: datetime, end: datetime) -> Any:
            return iter([stale])

    run = sweeper(world)
    run.store = Frozen()
    run.sweep()
    assert view(pr_id)["status"] == "requested" and view(pr_id)["hold_attempt"] == 2


def test_the_receipt_of_a_partly_captured_hold_shows_what_was_held_and_released(
    world: World,
) -> None:
    from callpay import runtime  # noqa: PLC0415

    pr_id = authorised(world)
    call(
        http_event("POST", f"/payment-requests/{pr_id}/capture", {"amount": 2500}, claims=CLINICIAN)
    )
    request = world.store.get(pr_id)
    assert request is not None
    text = runtime.receipt_book().rendered(request, choice="en").text
    assert "Held on card: A$80.00" in text and "Total: A$25.00" in text
    assert "The rest of the hold was released and never charged." in text
    whole = authorised(world)
    call(http_event("POST", f"/payment-requests/{whole}/capture", {}, claims=CLINICIAN))
    captured = world.store.get(whole)
    assert captured is not None
    text = runtime.receipt_book().rendered(captured, choice="fr").text
    assert "Montant bloqué sur la carte\u00a0: 80,00\u00a0$AU" in text
    assert "libéré" not in text


def test_the_payments_report_tells_holds_captures_releases_and_lapses_apart(
    world: World,
) -> None:
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    from clinic_admin.handler import lambda_handler as clinic_admin  # noqa: PLC0415
    from tests.support.events import LambdaContext, clinician_claims  # noqa: PLC0415

    start = world.clock.now.isoformat()
    captured, released, lapsed = authorised(world), authorised(world), authorised(world)
    capture = "/payment-requests/{}/capture"
    call(http_event("POST", capture.format(captured), {"amount": 5000}, claims=CLINICIAN))
    call(http_event("POST", capture.format(released), {"amount": 0}, claims=CLINICIAN))
    intent = world.store.get(lapsed).payment_intent_id  # type: ignore[union-attr]
    apply(world, intent_event("payment_intent.canceled", str(intent), lapsed,
                              cancellation_reason="expired"))  # fmt: skip
    end = (world.clock.now + timedelta(seconds=1)).isoformat()
    report = http_event(
        "GET", "/clinics/clinic-1/payments", claims=clinician_claims(role="team_admin")
    )
    report["queryStringParameters"] = {"from": start, "to": end, "format": "csv"}
    rows = {
        row["id"]: row
        for row in csv.DictReader(io.StringIO(clinic_admin(report, LambdaContext())["body"]))
    }
    assert [
        (rows[i]["status"], rows[i]["amount"], rows[i]["amount_captured"],
         rows[i]["capture_method"], rows[i]["cancellation_reason"])
        for i in (captured, released, lapsed)
    ] == [
        ("succeeded", "8000", "5000", "manual", ""),
        ("canceled", "8000", "0", "manual", "released"),
        ("canceled", "8000", "0", "manual", "expired"),
    ]  # fmt: skip
