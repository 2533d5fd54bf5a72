"""The log audit of the e2e suite can fail: each kind of secret planted in a log is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.log_audit import leaks_in_line, leaks_in_logs

SENDER = "receipts@example.com"
TOKEN_KEY = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjYWxscGF5IiwiY2FsbF9pZCI6ImMifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"receipt_email": "Pat.Doe+x@mail.example.org"}', "e-mail address"),
        ("client_secret=pi_3Abc123_secret_XyZ789", "client secret"),
        (f'{{"token": "{JWT}"}}', "JWT"),
        ("GET /calls/c-1/payment-requests?token=" + JWT, "JWT"),
        ("Authorization: Bearer opaque-token-value", "bearer token"),
        ("api_key=sk_test_local", "Stripe secret key"),
        ("restricted rk_live_51Habc", "Stripe secret key"),
        ("secrets ['whsec_local_account_0af3']", "webhook secret"),
        ("-----BEGIN PRIVATE KEY-----", "private key"),
        (f"key={TOKEN_KEY}", "known secret"),
    ],
)
def test_each_kind_of_secret_in_a_line_is_found(line: str, kind: str) -> None:
    kinds = [found for found, _ in leaks_in_line(line, [TOKEN_KEY], [SENDER])]
    assert kind in kinds


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"INFO","message":"receipt sent","payment_request_id":"pr_1a2b"}',
        "publishable_key pk_test_local, the browser's",
        f"sending from {SENDER.upper()}",
        '"POST /v1/payment_intents/pi_3Abc123/confirm HTTP/1.1" 200',
    ],
)
def test_what_is_not_secret_passes(line: str) -> None:
    assert list(leaks_in_line(line, [TOKEN_KEY], [SENDER])) == []


def test_a_secret_planted_in_any_log_file_under_the_state_directory_is_reported(
    tmp_path: Path,
) -> None:
    (tmp_path / "logs" / "lambda").mkdir(parents=True)
    (tmp_path / "stack.log").write_text('{"message":"ready"}\n' * 3)
    (tmp_path / "logs" / "moto.log").write_text("POST / 200\n")
    (tmp_path / "logs" / "lambda" / "request_payment.log").write_text(
        '{"message":"ok"}\n{"message":"checkout","email":"patient-1@example.com"}\n'
    )
    (tmp_path / "local.json").write_text('{"webhook_secret": "whsec_not_a_log"}')
    leaks, lines = leaks_in_logs(tmp_path, [TOKEN_KEY], [SENDER])
    assert lines == 6
    assert [(leak.path.name, leak.line_number, leak.kind) for leak in leaks] == [
        ("request_payment.log", 2, "e-mail address")
    ]
    assert "patient-1@example.com" not in str(leaks[0])
