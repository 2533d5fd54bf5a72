"""Links to the hosted pay page: the call (and for a pay-later link, its one request) and
the token travel in the URL fragment, which browsers never send to a server, so the token
stays out of access logs and Referer headers."""

from __future__ import annotations

from urllib.parse import urlencode


def pay_page_url(
    page_url: str, call_id: str, token: str, payment_request_id: str | None = None
) -> str:
    given = {"call_id": call_id}
    if payment_request_id:
        given["payment_request_id"] = payment_request_id
    return f"{page_url.split('#', 1)[0]}#{urlencode(given | {'token': token})}"
