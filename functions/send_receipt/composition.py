"""What send_receipt builds: the mailing of receipts and pay-later links (the shared
receipt book, the ledger that makes each e-mail go once, SES) on callpay.runtime's parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callpay import runtime
from callpay.parts import part

if TYPE_CHECKING:
    from callpay.logic.receipts import ReceiptMailing


@part
def receipts() -> ReceiptMailing:
    from callpay.adapters.dynamodb_receipts import DynamoDBReceiptLedger  # noqa: PLC0415
    from callpay.adapters.ses_mailer import SesReceiptMailer  # noqa: PLC0415
    from callpay.logic.receipts import PayLinkMail, ReceiptMailing  # noqa: PLC0415
    from callpay.receipts.locales import negotiate  # noqa: PLC0415
    from callpay.receipts.pay_link import render_pay_link  # noqa: PLC0415

    config = runtime.settings()
    links = None
    if config.patient_page_url:
        links = PayLinkMail(
            tokens=runtime.patient_tokens(), page_url=config.patient_page_url,
            render=render_pay_link, negotiate=negotiate,
        )  # fmt: skip
    return ReceiptMailing(
        book=runtime.receipt_book(),
        ledger=DynamoDBReceiptLedger(runtime.client("dynamodb"), config.table_name),
        mailer=SesReceiptMailer(
            lambda: runtime.client("ses"),
            runtime.required(config.receipt_sender, "RECEIPT_SENDER"),
            config.ses_configuration_set,
        ),
        clock=runtime.now,
        links=links,
    )
