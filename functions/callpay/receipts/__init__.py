"""Receipts: what a payment or refund receipt shows, and its rendering in the patient's language.

Pure and storage-free: the mailer and the receipt route build a `Receipt` and call `render`.
"""

from callpay.receipts.locales import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    accept_language,
    match,
    negotiate,
)
from callpay.receipts.receipt import ClinicDetails, Receipt, ReceiptKind, ReceiptLine
from callpay.receipts.render import RenderedReceipt, render

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "ClinicDetails",
    "Receipt",
    "ReceiptKind",
    "ReceiptLine",
    "RenderedReceipt",
    "accept_language",
    "match",
    "negotiate",
    "render",
]
