"""Secrets Manager secrets holding JSON, read at run time and kept for a while.

Each secret is read once and then served from memory for `max_age` seconds, so a rotated
secret is picked up within that time and a warm function makes no call for it. One
botocore client, one GetSecretValue per secret and per period: what Powertools' parameters
utility does for secrets, without importing its other providers (AppConfig, SSM, DynamoDB)
into every cold start (docs/performance.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any


class SecretValues:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_factory = client_factory
        self._max_age = max_age_seconds
        self._clock = clock
        self._values: dict[str, tuple[float, object]] = {}
        # The webhook's notifier posts from threads; a secret is read by one at a time.
        self._lock = threading.Lock()

    def json(self, secret_id: str) -> object:
        """The secret's JSON value: from memory while younger than max_age, else read."""
        with self._lock:
            kept = self._values.get(secret_id)
            if kept is not None and self._clock() - kept[0] < self._max_age:
                return kept[1]
            answer = self._client_factory().get_secret_value(SecretId=secret_id)
            value = json.loads(answer["SecretString"])
            self._values[secret_id] = (self._clock(), value)
            return value
