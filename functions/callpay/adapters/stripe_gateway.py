"""PaymentGateway on Stripe's official SDK: direct charges on the clinic's connected account.

Stripe is sent only what it needs (amount, currency, card, capture method and our ids);
the clinician's free-text description only when the clinic opted in. Every POST carries
an idempotency key made from our own ids, so retrying after a timeout is safe; creating
an intent or a refund, capturing or canceling one, also finds what an attempt whose answer
was lost did, rather than trusting the key alone (`create_once`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from callpay.domain.errors import Conflict, InvalidInput, PaymentDeclined, UpstreamUnavailable
from callpay.domain.payment_request import ChargeDetails, PaymentRequest, Refund
from callpay.domain.saved_card import SavedCard
from callpay.ports import Intent

if TYPE_CHECKING:
    import stripe

# The API version of every call callpay makes and of its webhook endpoints (docs/deploy.md,
# `callpay stripe-endpoints`): the version this SDK is typed for. Pinned here, so upgrading
# the SDK is a decision (tests/unit/test_stripe_errors.py checks they agree). Events are read
# in whatever version they come in (domain/stripe_objects.py, domain/refunds.py).
STRIPE_API_VERSION = "2026-10-28.endive"


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe's exceptions as domain errors: declines 402, transient faults 503."""
    import stripe  # noqa: PLC0415 - heavy import, paid only by functions that call Stripe

    try:
        yield
    except stripe.CardError as error:
        code = (error.error and error.error.decline_code) or error.code or "card_declined"
        raise PaymentDeclined(str(code), error.user_message or "The card was declined.") from error
    except (stripe.RateLimitError, stripe.APIConnectionError) as error:
        raise UpstreamUnavailable("stripe_unavailable", "Stripe is busy; try again.") from error
    except stripe.IdempotencyError as error:
        # Our own keys (ids, the record's version, the amount) only meet other parameters
        # when an earlier attempt is still being processed by Stripe.
        raise Conflict(
            "stripe_busy", "Stripe is still processing an earlier attempt; try again shortly."
        ) from error
    except stripe.PermissionError as error:
        # The clinic disconnected callpay from its Stripe account.
        raise Conflict(
            "stripe_access_revoked", "The clinic's Stripe account no longer allows this."
        ) from error
    except stripe.InvalidRequestError as error:
        if error.code == "amount_too_small":
            raise InvalidInput(
                "amount_too_small", error.user_message or "The amount is below Stripe's minimum."
            ) from error
        raise Conflict(
            "stripe_rejected", error.user_message or "Stripe refused this operation."
        ) from error
    except stripe.APIError as error:
        raise UpstreamUnavailable(
            "stripe_unavailable", "Stripe had an error; try again."
        ) from error


def _intent(obj: Any) -> Intent:
    return Intent(id=obj.id, status=obj.status, client_secret=obj.client_secret)


T = TypeVar("T")

# How far back to look for an object whose creation answer was lost: the attempt's own
# time, with room for clocks that disagree.
LOOKBACK = timedelta(minutes=10)


def create_once(create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Make one object (or one change) on Stripe even when the answer to it is lost.

    A reset connection, a timeout or a 5xx may hide a success. Stripe would replay it for
    the same idempotency key, but a Stripe that does not (localstripe ignores keys) would
    make a second one, so the retry first looks for what the lost attempt made (`find`,
    by our ids in its metadata) and only then creates again, with the same key. `create`
    must not retry by itself (`max_network_retries` 0)."""
    import stripe  # noqa: PLC0415

    try:
        return create()
    except (stripe.APIConnectionError, stripe.APIError):
        found = find()
    return found if found is not None else create()


def _metadata(obj: Any) -> dict[str, str]:
    metadata = getattr(obj, "metadata", None)
    return metadata.to_dict() if metadata is not None else {}


def refund_key_digest(idempotency_key: str) -> str:
    """What a refund carries in its metadata to be found again: not the client's key."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def create_key(request: PaymentRequest) -> str:
    """One PaymentIntent per attempt: the first hold's key is the request's own (as before
    re-authorisation existed), each later hold's names its attempt (so does its metadata,
    `attempt`, by which a lost answer's intent is found again)."""
    if request.hold_attempt == 1:
        return f"{request.id}:create"
    return f"{request.id}:create:a{request.hold_attempt}"


class StripeGateway:
    def __init__(self, client_factory: Callable[[], stripe.StripeClient]) -> None:
        self._client_factory = client_factory

    def create_intent(
        self,
        request: PaymentRequest,
        stripe_account: str,
        share_description: bool,
        saved_card: SavedCard | None = None,
        resumed: bool = False,
    ) -> Intent:
        """The request's PaymentIntent; `resumed`: an earlier attempt at this request may
        have made it already (its answer lost), so look for that one first."""
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method_types": ["card"],
            "capture_method": request.capture_method,
            "metadata": {
                "payment_request_id": request.id,
                "call_id": request.call_id,
                "clinic_id": request.clinic_id,
            },
        }
        if share_description:
            params["description"] = request.description
        if saved_card is not None:
            params |= {"customer": saved_card.customer_id,
                       "payment_method": saved_card.payment_method_id}  # fmt: skip
        if request.hold_attempt > 1:
            params["metadata"]["attempt"] = str(request.hold_attempt)
        client = self._client_factory()

        def create() -> Any:
            return client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={
                    "stripe_account": stripe_account,
                    "idempotency_key": create_key(request),
                    "max_network_retries": 0,
                },
            )

        def find() -> Any | None:
            # A later hold is made when it is asked for, after the record's last change.
            made = request.updated_at if request.hold_attempt > 1 else request.created_at
            since = int((made - LOOKBACK).timestamp())
            listed = client.v1.payment_intents.list(
                params={"created": {"gte": since}, "limit": 100},
                options={"stripe_account": stripe_account},
            )
            # Every intent of the account made since: a few pages at most on Stripe.
            attempt = str(request.hold_attempt)
            for intent in listed.auto_paging_iter():
                metadata = _metadata(intent)
                if (
                    metadata.get("payment_request_id") == request.id
                    and metadata.get("attempt", "1") == attempt
                ):
                    return intent
            return None

        with stripe_errors():
            obj = (find() if resumed else None) or create_once(create, find)
        return _intent(obj)

    def retrieve_hold(self, intent_id: str, stripe_account: str) -> Intent:
        with stripe_errors():
            obj = self._client_factory().v1.payment_intents.retrieve(
                intent_id,
                params={"expand": ["latest_charge"]},
                options={"stripe_account": stripe_account},
            )
        card = getattr(getattr(obj.latest_charge, "payment_method_details", None), "card", None)
        deadline = getattr(card, "capture_before", None)
        return Intent(
            id=obj.id,
            status=obj.status,
            amount_received=getattr(obj, "amount_received", None),
            capture_before=datetime.fromtimestamp(deadline, UTC) if deadline else None,
        )

    def confirm_off_session(
        self, intent_id: str, stripe_account: str, idempotency_key: str
    ) -> Intent:
        with stripe_errors():
            obj = self._client_factory().v1.payment_intents.confirm(
                intent_id,
                params={"off_session": True},
                options={"stripe_account": stripe_account, "idempotency_key": idempotency_key},
            )
        return _intent(obj)

    def keep_card(
        self, intent_id: str, stripe_account: str, customer_id: str | None, idempotency_key: str
    ) -> Intent:
        # "" unsets setup_future_usage (the patient changed their mind before paying).
        params: dict[str, Any] = {"setup_future_usage": "off_session" if customer_id else ""}
        if customer_id:
            params["customer"] = customer_id
        with stripe_errors():
            obj = self._client_factory().v1.payment_intents.update(
                intent_id,
                params=params,  # type: ignore[arg-type]
                options={"stripe_account": stripe_account, "idempotency_key": idempotency_key},
            )
        return _intent(obj)

    def create_customer(self, stripe_account: str, patient_key: str, idempotency_key: str) -> str:
        """No name or e-mail: Stripe needs neither to keep a card, and our key is opaque."""
        with stripe_errors():
            customer = self._client_factory().v1.customers.create(
                params={"metadata": {"callpay_patient": patient_key}},
                options={"stripe_account": stripe_account, "idempotency_key": idempotency_key},
            )
        return str(customer.id)

    def retrieve_intent(self, intent_id: str, stripe_account: str) -> Intent:
        with stripe_errors():
            obj = self._client_factory().v1.payment_intents.retrieve(
                intent_id, options={"stripe_account": stripe_account}
            )
        return _intent(obj)

    def cancel_intent(self, intent_id: str, stripe_account: str, idempotency_key: str) -> Intent:
        client = self._client_factory()
        options: Any = {"stripe_account": stripe_account}

        def cancel() -> Any:
            return client.v1.payment_intents.cancel(
                intent_id,
                options=options | {"idempotency_key": idempotency_key, "max_network_retries": 0},
            )

        def find() -> Any | None:
            intent = client.v1.payment_intents.retrieve(intent_id, options=options)
            return intent if intent.status == "canceled" else None

        with stripe_errors():
            return _intent(create_once(cancel, find))

    def capture_intent(
        self, intent_id: str, stripe_account: str, amount: int, idempotency_key: str
    ) -> Intent:
        client = self._client_factory()
        options: Any = {"stripe_account": stripe_account}

        def capture() -> Any:
            return client.v1.payment_intents.capture(
                intent_id,
                params={"amount_to_capture": amount},
                options=options | {"idempotency_key": idempotency_key, "max_network_retries": 0},
            )

        def find() -> Any | None:
            # Captured by the attempt whose answer was lost: the intent says so.
            intent = client.v1.payment_intents.retrieve(intent_id, options=options)
            return intent if intent.status == "succeeded" else None

        with stripe_errors():
            return _intent(create_once(capture, find))

    def charge_details(self, intent_id: str, stripe_account: str) -> ChargeDetails:
        """The charge id and card of a paid intent, for the receipt."""
        with stripe_errors():
            obj = self._client_factory().v1.payment_intents.retrieve(
                intent_id,
                params={"expand": ["latest_charge", "payment_method"]},
                options={"stripe_account": stripe_account},
            )
        charge, method = obj.latest_charge, obj.payment_method
        card = getattr(method, "card", None)
        return ChargeDetails(
            charge_id=charge if isinstance(charge, str) else getattr(charge, "id", None),
            card_brand=getattr(card, "brand", None),
            card_last4=getattr(card, "last4", None),
        )

    def refund(self, request: PaymentRequest, amount: int, idempotency_key: str) -> Refund:
        """Stripe's Refund object: counted by itself, so the charge's `amount_refunded`
        (which folds released authorisations in before 2025-03-31.basil) is not needed."""
        assert request.payment_intent_id and request.stripe_account
        intent_id = request.payment_intent_id
        options: Any = {"stripe_account": request.stripe_account}
        digest = refund_key_digest(idempotency_key)
        client = self._client_factory()

        def create() -> Any:
            return client.v1.refunds.create(
                params={
                    "payment_intent": intent_id,
                    "amount": amount,
                    "metadata": {"payment_request_id": request.id, "refund_key": digest},
                },
                options=options | {"idempotency_key": idempotency_key, "max_network_retries": 0},
            )

        def find() -> Any | None:
            listed = client.v1.refunds.list(
                params={"payment_intent": intent_id, "limit": 100}, options=options
            )
            mine = [r for r in listed.data if _metadata(r).get("refund_key") == digest]
            return mine[0] if mine else None

        with stripe_errors():
            refund = create_once(create, find)
        return Refund(id=refund.id, amount=refund.amount, status=refund.status or "succeeded")
