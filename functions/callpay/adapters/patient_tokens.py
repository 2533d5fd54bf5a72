"""Call-scoped, expiring patient access tokens: HS256 JWTs signed with a key from our secret.

A pay-later link's token is the same kind of token narrowed to one payment request
(`payment_request_id`) and living longer (PAY_LINK_HOURS). Its claims are all given (id,
issue and expiry times), so the mailer mints the very same token again on a retry and the
token itself is never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints, ValidationError

from callpay.domain.access import Patient
from callpay.domain.errors import Forbidden, Unauthenticated

ISSUER = "callpay"
AUDIENCE = "callpay:patient"

TokenId = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class PatientClaims(BaseModel):
    """What a patient token grants; PyJWT has checked iss, aud, exp and iat."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: TokenId
    clinic_id: TokenId
    jti: TokenId
    # A pay-later link: only this request of the call.
    payment_request_id: TokenId | None = None
    # The platform's reference of the patient, when the clinician gave it.
    patient_ref: TokenId | None = None


class SignedPatientTokens:
    def __init__(self, key: Callable[[], str], lifetime: timedelta) -> None:
        self._key = key
        self._lifetime = lifetime

    def mint(
        self,
        call_id: str,
        clinic_id: str,
        now: datetime,
        *,
        patient_ref: str | None = None,
        payment_request_id: str | None = None,
        token_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, datetime]:
        import jwt  # noqa: PLC0415 - PyJWT (and cryptography) only where tokens are handled

        expires_at = expires_at or now + self._lifetime
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"patient:{call_id}",
            "call_id": call_id,
            "clinic_id": clinic_id,
            "jti": token_id or uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        if patient_ref:
            claims["patient_ref"] = patient_ref
        if payment_request_id:
            claims["payment_request_id"] = payment_request_id
        return jwt.encode(claims, self._key(), algorithm="HS256"), expires_at

    def verify(self, token: str) -> Patient:
        import jwt  # noqa: PLC0415

        try:
            claims = jwt.decode(
                token,
                self._key(),
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "call_id", "clinic_id", "jti"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("token_expired", "The access token has expired.") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid_token", "The access token is not valid.") from error
        try:
            grant = PatientClaims.model_validate(claims)
        except ValidationError:
            raise Unauthenticated("invalid_token", "The access token is not valid.") from None
        return Patient(
            call_id=grant.call_id, clinic_id=grant.clinic_id, token_id=grant.jti,
            payment_request_id=grant.payment_request_id, patient_ref=grant.patient_ref,
        )  # fmt: skip


class NoPatientTokens:
    """For a function no patient may call (clinic_admin): a patient token is refused as a
    patient would be on its routes, and the patient token key (not granted to such a
    function) is never read."""

    def mint(self, *given: object, **named: object) -> tuple[str, datetime]:
        raise Forbidden("clinician_only", "Only clinicians can do this.")

    def verify(self, token: str) -> Patient:
        raise Forbidden("clinician_only", "Only clinicians can do this.")
