from __future__ import annotations

import pytest
from pydantic import ValidationError

from callpay import runtime
from callpay.config import ConfigurationError, Settings, TokenKey, WebhookSecrets
from stripe_webhook import composition as stripe_webhook_parts

BASE = {"TABLE_NAME": "t"}


def test_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(BASE | {"PATIENT_TOKEN_HOURS": "2", "TOKEN_SECRET_ID": "k"})
    assert (settings.table_name, settings.token_secret_id, settings.patient_token_hours) == (
        "t", "k", 2,
    )  # fmt: skip


def test_missing_settings_are_named_at_start() -> None:
    with pytest.raises(ConfigurationError, match="TABLE_NAME"):
        Settings.from_env({})


def test_identity_provider_settings_come_together() -> None:
    with pytest.raises(ConfigurationError, match="JWT_ISSUER"):
        Settings.from_env(BASE | {"JWT_ISSUER": "https://idp/"})


def test_webhook_secrets_may_be_space_separated() -> None:
    secrets = WebhookSecrets.model_validate({"webhook_secrets": "whsec_a whsec_b"})
    assert secrets.webhook_secrets == ["whsec_a", "whsec_b"]


def test_a_short_patient_token_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        TokenKey.model_validate({"patient_token_key": "short"})


def test_a_function_without_its_secret_says_which_variable_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "settings", lambda: Settings.from_env(BASE))
    with pytest.raises(ConfigurationError, match="STRIPE_SECRET_ID"):
        runtime.stripe_keys()
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET_ID"):
        stripe_webhook_parts.webhook_secrets()
    with pytest.raises(ConfigurationError, match="TOKEN_SECRET_ID"):
        runtime.token_key()
