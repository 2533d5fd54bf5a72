"""Payment request routes: patient access, create, list, view, checkout, cancel, capture,
a fresh hold, pay-later links, no-show fees, refunds and the receipt page.

Each route turns the HTTP request into one call of the logic and shapes the answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from callpay import runtime
from callpay.api_models import (
    CaptureIn,
    CheckoutIn,
    EmptyBody,
    NoShowFeeIn,
    PatientAccessIn,
    PayLinkIn,
    PaymentRequestIn,
    PaymentRequestOut,
    PaymentRequestsOut,
    ReceiptQuery,
    RefundIn,
)
from callpay.domain.access import Principal
from callpay.domain.payment_request import PaymentRequest
from callpay.http_api import (
    http_resolver,
    idempotency_key,
    install_error_handlers,
    json_response,
    parse_body,
    parse_query,
    path_id,
)
from request_payment import composition

logger = Logger(service="request_payment")
metrics = Metrics(namespace="callpay", service="request_payment")
app = http_resolver()
install_error_handlers(app, logger)


def caller() -> Principal:
    return runtime.caller_of(app.current_event.raw_event)


@app.post("/calls/<call_id>/patient-access")
def grant_patient_access(call_id: str) -> Response[str]:
    body = parse_body(app.current_event.raw_event, PatientAccessIn)
    access = composition.payment_requests().grant_patient_access(
        caller(), path_id(call_id, "call_id"), body.clinic_id, body.patient_ref
    )
    return json_response(201, access)


@app.post("/calls/<call_id>/payment-requests")
def create_payment_request(call_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, PaymentRequestIn)
    key = idempotency_key(app.current_event.headers)
    request, is_new = composition.payment_requests().create(
        principal, path_id(call_id, "call_id"), body, key
    )
    if is_new:
        metrics.add_metric(name="PaymentRequestsCreated", unit=MetricUnit.Count, value=1)
    logger.info("payment request created", extra={"payment_request_id": request.id, "new": is_new})
    return created(request, is_new)


def created(request: PaymentRequest, is_new: bool) -> Response[str]:
    """201 with the request and where it lives; a replayed Idempotency-Key says so."""
    response = json_response(201, PaymentRequestOut.of(request))
    response.headers["Location"] = f"/payment-requests/{request.id}"
    if not is_new:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@app.post("/calls/<call_id>/no-show-fees")
def charge_no_show_fee(call_id: str) -> Response[str]:
    """The clinic's no-show fee on the card the patient agreed to keep (off-session)."""
    principal = caller()
    body = parse_body(app.current_event.raw_event, NoShowFeeIn)
    key = idempotency_key(app.current_event.headers)
    request, is_new = composition.no_show_fees().charge(
        principal, path_id(call_id, "call_id"), body, key
    )
    if is_new:
        metrics.add_metric(name="NoShowFees", unit=MetricUnit.Count, value=1)
    logger.info(
        "no-show fee", extra={"payment_request_id": request.id, "status": request.status.value}
    )
    return created(request, is_new)


@app.get("/calls/<call_id>/payment-requests")
def list_payment_requests(call_id: str) -> Response[str]:
    requests = composition.payment_requests().list_for_call(caller(), path_id(call_id, "call_id"))
    return json_response(
        200, PaymentRequestsOut(payment_requests=[PaymentRequestOut.of(r) for r in requests])
    )


@app.get("/payment-requests/<payment_request_id>")
def get_payment_request(payment_request_id: str) -> Response[str]:
    request = composition.payment_requests().get(caller(), path_id(payment_request_id, "id"))
    return json_response(200, PaymentRequestOut.of(request))


@app.post("/payment-requests/<payment_request_id>/checkout")
def checkout(payment_request_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, CheckoutIn)
    result = composition.payment_requests().checkout(
        principal, path_id(payment_request_id, "id"), body
    )
    return json_response(200, result)


@app.post("/payment-requests/<payment_request_id>/capture")
def capture(payment_request_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, CaptureIn)
    request = composition.payment_requests().capture(
        principal, path_id(payment_request_id, "id"), body
    )
    return json_response(200, PaymentRequestOut.of(request))


@app.post("/payment-requests/<payment_request_id>/reauthorize")
def reauthorize(payment_request_id: str) -> Response[str]:
    principal = caller()
    parse_body(app.current_event.raw_event, EmptyBody)
    request = composition.payment_requests().reauthorize(
        principal, path_id(payment_request_id, "id")
    )
    return json_response(200, PaymentRequestOut.of(request))


@app.post("/payment-requests/<payment_request_id>/pay-link")
def pay_link(payment_request_id: str) -> Response[str]:
    """E-mail the patient a link to pay this request on the hosted page (202: the e-mail is
    queued); a clinician of the call or the platform's backend."""
    principal = runtime.platform_caller_of(app.current_event.raw_event)
    body = parse_body(app.current_event.raw_event, PayLinkIn)
    request = composition.payment_requests().send_pay_link(
        principal, path_id(payment_request_id, "id"), body
    )
    metrics.add_metric(name="PayLinksSent", unit=MetricUnit.Count, value=1)
    return json_response(202, PaymentRequestOut.of(request))


@app.post("/payment-requests/<payment_request_id>/refunds")
def refund(payment_request_id: str) -> Response[str]:
    principal = caller()
    body = parse_body(app.current_event.raw_event, RefundIn)
    key = idempotency_key(app.current_event.headers)
    answer, is_new = composition.payment_requests().refund(
        principal, path_id(payment_request_id, "id"), body, key
    )
    if not is_new:
        # The first answer for this key, as it was: same status, same body.
        return Response(
            status_code=answer.status,
            content_type="application/json",
            body=answer.body,
            headers={"Idempotent-Replayed": "true"},
        )
    metrics.add_metric(name="Refunds", unit=MetricUnit.Count, value=1)
    return Response(status_code=answer.status, content_type="application/json", body=answer.body)


@app.get("/payment-requests/<payment_request_id>/receipt")
def receipt(payment_request_id: str) -> Response[str]:
    """The receipt as an HTML page in the patient's language: `?locale=`, else their locale
    at checkout, else Accept-Language, else the clinic's default (ReceiptBook.rendered)."""
    from callpay.receipts.locales import accept_language, language_tag  # noqa: PLC0415

    request = composition.payment_requests().get(caller(), path_id(payment_request_id, "id"))
    event = app.current_event
    query = parse_query(event.raw_event, ReceiptQuery)
    page = runtime.receipt_book().rendered(
        request,
        choice=query.locale,
        accepted=accept_language(event.headers.get("accept-language")),
    )
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page.html,
        headers={
            "Content-Language": language_tag(page.locale),
            "Cache-Control": "private, no-store",
        },
    )


@app.post("/payment-requests/<payment_request_id>/cancel")
def cancel(payment_request_id: str) -> Response[str]:
    request = composition.payment_requests().cancel(caller(), path_id(payment_request_id, "id"))
    return json_response(200, PaymentRequestOut.of(request))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
