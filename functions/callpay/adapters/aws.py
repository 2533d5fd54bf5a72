"""AWS clients as every function builds them, and which of their errors are passing faults.

Each client gives up on a silent server after a short timeout and retries throttling,
5xx answers and network faults (botocore's standard mode), all well inside the API
functions' 10 s. What still fails after that is a fault the caller may simply retry: the
HTTP functions answer it 503 `store_busy`, the webhook 503 so Stripe delivers again.

The clients are botocore's low-level ones, made by one botocore session (region,
credentials and endpoint from the environment, as boto3's): boto3's own layer (its
session, resources, s3transfer) is never imported at run time (docs/performance.md).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session

CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
# Three tries of at most 3 s each, with standard mode's backoff: under 10 s in all.
MAX_ATTEMPTS = 3

# Throttling and the service's own faults, as DynamoDB, SQS, SES and API Gateway name them.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
    "RequestLimitExceeded", "TooManyRequestsException", "LimitExceededException",
    "InternalServerError", "InternalFailure", "ServiceUnavailable",
    "TransactionInProgressException",
})  # fmt: skip
# A transaction cancelled for these reasons changed nothing and may simply be retried.
TRANSIENT_CANCELLATIONS = frozenset({"ThrottlingError", "TransactionConflict"})


# botocore's default pool; the notifier asks for more (it posts from that many threads).
POOL_CONNECTIONS = 10

# A botocore session must not make clients in several threads at once.
_making = threading.Lock()


@cache
def _session() -> Session:
    import botocore.session  # noqa: PLC0415 - heavy import, paid by the functions that use AWS

    return botocore.session.get_session()


def config(connections: int = POOL_CONNECTIONS) -> Config:
    """Every client's timeouts and retries; `connections`: how many it keeps open at once."""
    from botocore.config import Config  # noqa: PLC0415

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        max_pool_connections=connections,
    )


def client(service: str, connections: int = POOL_CONNECTIONS, **options: Any) -> Any:
    """A new client of `service`, with the timeouts and retries above."""
    with _making:
        return _session().create_client(service, config=config(connections), **options)


def cancellation_reasons(error: ClientError) -> list[str]:
    """The per-item reasons of a cancelled DynamoDB transaction, in item order."""
    return [str(r.get("Code")) for r in error.response.get("CancellationReasons", [])]


def is_transient(error: BaseException) -> bool:
    """True for a fault that changed nothing and may pass: a timeout, a lost connection,
    throttling, the service's 5xx, a transaction throttled or in conflict."""
    if isinstance(error, HTTPClientError | AwsConnectionError):
        return True
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code == "TransactionCanceledException":
        return bool(TRANSIENT_CANCELLATIONS & set(cancellation_reasons(error)))
    return code in TRANSIENT_CODES or status >= 500
