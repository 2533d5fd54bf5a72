"""Secrets are read once per max age: a warm function makes no call for them, and a rotated
secret is picked up once the kept value is older than SECRET_MAX_AGE_SECONDS."""

from __future__ import annotations

import json
from typing import Any

from callpay.adapters.secrets import SecretValues


class SecretsManager:
    def __init__(self) -> None:
        self.values = {"stripe": {"stripe_api_key": "sk_test_one"}}
        self.reads: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.reads.append(SecretId)
        return {"SecretString": json.dumps(self.values[SecretId])}


def test_a_secret_is_read_once_then_kept_until_its_max_age_and_a_rotation_is_picked_up() -> None:
    service, now = SecretsManager(), [1000.0]
    secrets = SecretValues(lambda: service, max_age_seconds=300, clock=lambda: now[0])

    assert secrets.json("stripe") == {"stripe_api_key": "sk_test_one"}
    service.values["stripe"] = {"stripe_api_key": "sk_test_two"}  # rotated
    now[0] += 299
    assert secrets.json("stripe") == {"stripe_api_key": "sk_test_one"}
    assert service.reads == ["stripe"]

    now[0] += 1
    assert secrets.json("stripe") == {"stripe_api_key": "sk_test_two"}
    assert service.reads == ["stripe", "stripe"]
