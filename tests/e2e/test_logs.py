"""Nothing secret in any log line of the e2e suite: run last, over every log file.

The local stack writes its own output, with every handler's log lines (Powertools JSON,
at DEBUG as the dev stage logs), to stack.log, and its servers' (moto, localstripe...)
under logs/. By the time this runs every other e2e test of the session has paid,
refunded, connected sockets and mailed receipts through it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from devtools.local_client import wait_until_receipts_are_sent
from devtools.stack import SECRET_IDS, SENDER
from tests.e2e.conftest import LocalStack
from tests.support.log_audit import leaks_in_logs, log_files

pytestmark = pytest.mark.e2e


def known_secrets(stack: LocalStack) -> list[str]:
    """The values with no recognisable shape: the patient token key, read from the stack's
    Secrets Manager (moto) as the functions read it."""
    client = boto3.client(
        "secretsmanager",
        endpoint_url=stack.endpoints.aws_endpoint_url,
        region_name=stack.endpoints.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    value = client.get_secret_value(SecretId=SECRET_IDS["TOKEN_SECRET_ID"])["SecretString"]
    return [str(json.loads(value)["patient_token_key"])]


@pytest.mark.last
def test_no_log_line_holds_an_email_client_secret_token_or_key(
    stack: LocalStack, tmp_path: Path
) -> None:
    wait_until_receipts_are_sent(stack.endpoints)
    secrets = known_secrets(stack)
    files = log_files(stack.state_dir)
    assert {path.name for path in files} >= {"stack.log", "moto.log", "localstripe.log"}
    text = "".join(path.read_text(errors="replace") for path in files)
    # The handlers' own lines are in what is read (one per service that the suite ran).
    for service in ("request_payment", "stripe_webhook", "realtime", "send_receipt"):
        assert f'"service":"{service}"' in text, service

    leaks, lines = leaks_in_logs(stack.state_dir, secrets, [SENDER])
    assert lines > 100
    assert [str(leak) for leak in leaks] == []

    # The same audit over a copy of these logs with one e-mail planted finds exactly it.
    copy = tmp_path / "copy"
    shutil.copytree(stack.state_dir, copy)
    with (copy / "stack.log").open("a") as log:
        log.write('{"level":"INFO","message":"checkout","email":"planted@example.org"}\n')
    planted, _ = leaks_in_logs(copy, secrets, [SENDER])
    assert [leak.kind for leak in planted] == ["e-mail address"]
