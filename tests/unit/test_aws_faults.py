"""Which AWS errors are passing faults (503 store_busy) and which are ours (500)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from callpay.adapters.aws import is_transient


def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "x"},
                     "ResponseMetadata": {"HTTPStatusCode": status}, **extra}  # fmt: skip
    return ClientError(response, "TransactWriteItems")


def cancelled(*reasons: str) -> ClientError:
    return client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": r} for r in reasons]
    )


@pytest.mark.parametrize(
    "error",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("Throttling"),  # SES
        client_error("TooManyRequestsException", 429),  # API Gateway @connections
        client_error("InternalServerError", 500),
        client_error("AnythingElse", 503),
        cancelled("ThrottlingError", "None"),
        cancelled("None", "TransactionConflict"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1"),
    ],
)
def test_a_passing_fault_may_be_retried(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        client_error("ConditionalCheckFailedException"),
        client_error("AccessDeniedException"),
        client_error("ValidationException"),
        client_error("ResourceNotFoundException"),
        cancelled("ConditionalCheckFailed", "None"),
        ValueError("not AWS at all"),
    ],
)
def test_our_own_faults_are_not_passing(error: Exception) -> None:
    assert not is_transient(error)
