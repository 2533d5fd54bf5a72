"""What clinic_admin builds: the clinic use cases on the shared clinic store, Connect
onboarding (Stripe's, or the local stack's stand-in) and the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.audit import AuditTrail
    from callpay.logic.clinics import ClinicAdmin
    from callpay.ports import ConnectOnboarding


def connect_onboarding() -> ConnectOnboarding:
    from callpay.adapters.stripe_connect import LocalConnect, StripeConnect  # noqa: PLC0415

    config = runtime.settings()
    if config.local_onboarding_url:
        return LocalConnect(config.local_onboarding_url)
    return StripeConnect(
        runtime.stripe_client,
        runtime.required(config.connect_return_url, "CONNECT_RETURN_URL"),
        runtime.required(config.connect_refresh_url, "CONNECT_REFRESH_URL"),
    )


@part
def clinic_admin() -> ClinicAdmin:
    from callpay.logic.clinics import ClinicAdmin  # noqa: PLC0415

    return ClinicAdmin(
        clinics=runtime.clinic_store(), connect=connect_onboarding(), clock=runtime.now
    )


@part
def audit_trail() -> AuditTrail:
    from callpay.adapters.dynamodb_audit import DynamoDBAuditLog  # noqa: PLC0415
    from callpay.logic.audit import AuditTrail  # noqa: PLC0415

    log = DynamoDBAuditLog(runtime.client("dynamodb"), runtime.settings().table_name)
    return AuditTrail(
        log=log, payments=runtime.store(), clinics=runtime.clinic_store(), clock=runtime.now
    )
