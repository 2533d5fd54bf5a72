from __future__ import annotations

import pytest

from callpay.config import ConfigurationError, Secrets, Settings

BASE = {"TABLE_NAME": "t", "CALLPAY_SECRET_ID": "s"}


def test_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(BASE | {"PATIENT_TOKEN_HOURS": "2"})
    assert (settings.table_name, settings.secret_id, settings.patient_token_hours) == ("t", "s", 2)


def test_missing_settings_are_named_at_start() -> None:
    with pytest.raises(ConfigurationError, match="TABLE_NAME, CALLPAY_SECRET_ID"):
        Settings.from_env({})


def test_identity_provider_settings_come_together() -> None:
    with pytest.raises(ConfigurationError, match="JWT_ISSUER"):
        Settings.from_env(BASE | {"JWT_ISSUER": "https://idp/"})


def test_webhook_secrets_may_be_space_separated() -> None:
    secrets = Secrets.model_validate(
        {
            "stripe_api_key": "sk",
            "stripe_publishable_key": "pk",
            "webhook_secrets": "whsec_a whsec_b",
            "patient_token_key": "k" * 32,
        }
    )
    assert secrets.webhook_secrets == ["whsec_a", "whsec_b"]
