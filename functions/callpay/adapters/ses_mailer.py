"""ReceiptMailer on SES: one email with an HTML and a plain-text part."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SesReceiptMailer:
    def __init__(
        self, client_factory: Callable[[], Any], sender: str, configuration_set: str | None
    ) -> None:
        self._client_factory = client_factory
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, to: str, subject: str, html: str, text: str) -> str:
        """Send and return SES's message id; SES errors propagate so the job is retried."""
        params: dict[str, Any] = {
            "Source": self._sender,
            "Destination": {"ToAddresses": [to]},
            "Message": {
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": text, "Charset": "UTF-8"},
                    "Html": {"Data": html, "Charset": "UTF-8"},
                },
            },
        }
        if self._configuration_set:
            params["ConfigurationSetName"] = self._configuration_set
        return str(self._client_factory().send_email(**params)["MessageId"])
