"""Nothing secret in any log line of the browser suite: run last, over every log file of its
stack. The patients here type their e-mail into the pay page and pay through the Stripe.js
stand-in, so client secrets, patient tokens and e-mails all cross this stack."""

from __future__ import annotations

import pytest

from devtools.local_client import wait_until_receipts_are_sent
from devtools.stack import SENDER
from tests.e2e.conftest import LocalStack
from tests.e2e.test_logs import known_secrets
from tests.support.log_audit import leaks_in_logs

pytestmark = pytest.mark.browser


@pytest.mark.last
def test_no_log_line_of_the_browser_suite_holds_an_email_client_secret_token_or_key(
    stack: LocalStack,
) -> None:
    wait_until_receipts_are_sent(stack.endpoints)
    leaks, lines = leaks_in_logs(stack.state_dir, known_secrets(stack), [SENDER])
    assert lines > 100
    assert [str(leak) for leak in leaks] == []
