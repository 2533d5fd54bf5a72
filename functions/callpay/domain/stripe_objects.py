"""The boundary of signed Stripe events: the fields callpay reads, as strict models.

A verified signature proves who sent an event, not that we can read it: a buggy or
compromised sender, or an API version we did not foresee, may send any JSON. Every field
read is typed strictly (no "8000" for 8000, no string for an object) and every id that
ends up in a DynamoDB key is bounded, so whatever does not fit is a ValidationError, which
the webhook answers 400 `malformed_event`, never a 500. Stripe sends many more fields;
they are ignored.

Shapes across API versions (2020-08-27 to the SDK's):
- PaymentIntent: `charges` (a list of charges) until 2022-11-15, `latest_charge` (an id,
  or a Charge when expanded) since.
- Charge: `amount_captured` is null for a released authorisation before 2025-03-31.basil
  and 0 since; `refunds` is no longer included since 2022-11-15 (not read here).
- PaymentIntent `cancellation_reason` of a hold that lapsed: `expired` since
  2025-03-31.basil, `automatic` before.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

# Stripe's ids are at most 255 characters; ours in metadata at most 128 (http_api.ID_PATTERN).
StripeId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:-]+$")
]
OUR_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Statuses, reasons, decline codes, card brands: short words from Stripe's vocabulary.
Code = Annotated[str, StringConstraints(max_length=100)]
Message = Annotated[str, StringConstraints(max_length=5000)]
# Minor units. Stripe's amounts have at most 8 digits; the bound keeps any number we store
# far inside DynamoDB's 38 digits.
Amount = Annotated[StrictInt, Field(ge=0, le=10**12)]
Timestamp = Annotated[StrictInt, Field(ge=0, le=10**11)]
EventType = Annotated[str, StringConstraints(max_length=100, pattern=r"^[a-z0-9_.]+$")]
ApiVersion = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}(\.[a-z]{1,30})?$")]


class StripeModel(BaseModel):
    # Built on first use: a delivery reads one object type, and a cold start pays for the
    # models of that type only (docs/performance.md).
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore", defer_build=True)


class Metadata(StripeModel):
    # Only our own id is read; anything else in metadata is the integrator's business.
    payment_request_id: Annotated[str, StringConstraints(max_length=500)] | None = None

    @property
    def our_id(self) -> str | None:
        """Our payment request id, if the metadata holds something shaped like one."""
        value = self.payment_request_id
        return value if value is not None and OUR_ID.match(value) else None


class PaymentError(StripeModel):
    code: Code | None = None
    decline_code: Code | None = None
    message: Message | None = None


class Card(StripeModel):
    brand: Code | None = None
    last4: Annotated[str, StringConstraints(max_length=4)] | None = None
    # An authorisation's deadline: capture before it or the hold lapses.
    capture_before: Timestamp | None = None


class PaymentMethodDetails(StripeModel):
    card: Card | None = None


class Charge(StripeModel):
    id: StripeId
    object: Literal["charge"]
    amount: Amount
    amount_captured: Amount | None = None  # absent from localstripe; null, see above
    amount_refunded: Amount = 0
    captured: StrictBool = False
    refunded: StrictBool = False
    payment_intent: StripeId | None = None
    payment_method_details: PaymentMethodDetails | None = None


class ChargeList(StripeModel):
    data: Annotated[list[Charge], Field(max_length=100)] = []


class Expandable(StripeModel):
    """An object named by id, or given whole when expanded: only its id is read."""

    id: StripeId


class PaymentIntent(StripeModel):
    id: StripeId
    object: Literal["payment_intent"]
    status: Code
    amount: Amount
    # Absent from localstripe: then the whole amount was received.
    amount_received: Amount | None = None
    amount_capturable: Amount | None = None
    metadata: Metadata = Metadata()
    last_payment_error: PaymentError | None = None
    latest_charge: StripeId | Charge | None = None  # 2022-11-15 and later
    charges: ChargeList | None = None  # before 2022-11-15
    cancellation_reason: Code | None = None
    # A card kept for later (`setup_future_usage: off_session`) for this Customer.
    payment_method: StripeId | Expandable | None = None
    setup_future_usage: Code | None = None
    customer: StripeId | Expandable | None = None

    @property
    def payment_method_id(self) -> str | None:
        method = self.payment_method
        return method.id if isinstance(method, Expandable) else method

    @property
    def charge(self) -> Charge | None:
        """The intent's latest charge, when the event carries it whole."""
        if isinstance(self.latest_charge, Charge):
            return self.latest_charge
        if self.charges and self.charges.data:
            return self.charges.data[0]  # newest first
        return None


class Dispute(StripeModel):
    id: StripeId
    object: Literal["dispute"]
    amount: Amount
    status: Code
    reason: Code = "general"
    charge: StripeId | Charge
    payment_intent: StripeId | None = None
    is_charge_refundable: StrictBool = False
    created: Timestamp = 0


class Requirements(StripeModel):
    currently_due: Annotated[
        list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=500)
    ] = []


class Account(StripeModel):
    id: StripeId
    object: Literal["account"]
    charges_enabled: StrictBool = False
    details_submitted: StrictBool = False
    requirements: Requirements | None = None


class EventData(StripeModel):
    object: dict[str, Any]


class StripeEvent(StripeModel):
    """A verified Stripe event: what routing, ordering and deduplication need. `data.object`
    is read into the model its type calls for by whoever handles that type."""

    id: StripeId
    type: EventType
    created: Timestamp
    # The version `data.object` was rendered in: the endpoint's, or the account's default.
    api_version: ApiVersion | None = None
    account: StripeId | None = None  # the connected account, on the Connect endpoint
    data: EventData

    @property
    def object(self) -> dict[str, Any]:
        return self.data.object
