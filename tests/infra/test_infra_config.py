"""Deployment settings: defaults that synthesize, validation that stops a bad deploy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import RemovalPolicy

from infra.app import cdk_json_context
from infra.config import CallpayConfig, ConfigurationError
from tests.infra.conftest import PROD_CONTEXT, SECRETS_USED, Synthesized


class FakeNode:
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def config_of(**overrides: Any) -> CallpayConfig:
    return CallpayConfig.from_context(FakeNode({**cdk_json_context(), **overrides}))  # type: ignore[arg-type]


def test_cdk_json_defaults_make_a_dev_stage() -> None:
    config = config_of()
    assert config.stage == "dev"
    assert not config.is_production
    assert config.log_level == "DEBUG"
    assert config.stripe_secret_name is None
    assert config.webhook_secret_name is None
    assert config.token_secret_name is None
    assert not config.retains_data
    assert config.removal_policy == RemovalPolicy.DESTROY


@pytest.mark.parametrize("stage", ["prod", "staging", "production", "eu"])
def test_every_stage_but_dev_test_and_local_keeps_its_data_unless_told_otherwise(
    stage: str,
) -> None:
    config = config_of(**{**PROD_CONTEXT, "stage": stage})
    assert config.is_production and config.log_level == "INFO"
    assert config.retains_data
    assert config.removal_policy == RemovalPolicy.RETAIN


@pytest.mark.parametrize(
    ("stage", "retain_data", "retains"),
    [
        ("dev", None, False),
        ("test", "", False),
        ("local", None, False),
        ("dev", "true", True),
        ("test", True, True),
        ("staging", "false", False),
        ("prod", None, True),
    ],
)
def test_retain_data_overrides_the_stages_default(
    stage: str, retain_data: object, retains: bool
) -> None:
    overrides: dict[str, Any] = {**PROD_CONTEXT, "stage": stage}
    if retain_data is not None:
        overrides["retain_data"] = retain_data
    assert config_of(**overrides).retains_data is retains


def test_a_dev_stage_that_retains_data_protects_its_table(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.infra.conftest import synthesize  # noqa: PLC0415

    kept = synthesize(tmp_path_factory.mktemp("cdk.out.kept"), context={"retain_data": "true"})
    (table,) = kept.of_type("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    secrets = kept.of_type("AWS::SecretsManager::Secret").values()
    assert len(secrets) == 3
    assert all(secret["DeletionPolicy"] == "Retain" for secret in secrets)


def test_cli_strings_become_lists_and_numbers() -> None:
    config = config_of(cors_origins="https://a.test, https://b.test", api_rate_limit="20")
    assert config.cors_origins == ["https://a.test", "https://b.test"]
    assert config.api_rate_limit == 20


def test_jwks_url_defaults_to_the_issuers_well_known_keys() -> None:
    assert config_of(jwt_issuer="https://idp.test/tenant/").jwks_endpoint == (
        "https://idp.test/tenant/.well-known/jwks.json"
    )
    assert config_of(jwks_url="https://keys.test/jwks").jwks_endpoint == "https://keys.test/jwks"


@pytest.mark.parametrize(
    ("overrides", "mentioned"),
    [
        ({"stage": "Prod!"}, "stage"),
        ({"jwt_issuer": "http://insecure.test/"}, "jwt_issuer"),
        ({"sender_email": "not-an-address"}, "sender_email"),
        ({"cors_origins": ""}, "cors_origins"),
        ({"stage": "prod"}, "example values"),
        ({**PROD_CONTEXT, "cors_origins": "*"}, "not '*'"),
        ({"stage": "staging"}, "example values"),
        ({**PROD_CONTEXT, "cors_origins": "http://app.videoplatform.test"}, "only https"),
        ({**PROD_CONTEXT, "cors_origins": "https://localhost:5173"}, "only https"),
        ({**PROD_CONTEXT, "stage": "staging", "cors_origins": "http://127.0.0.1:3000"}, "https"),
        ({"webhook_rate_limit": 500}, "webhook_rate_limit"),
    ],
)
def test_bad_context_is_refused_with_the_setting_named(
    overrides: dict[str, Any], mentioned: str
) -> None:
    with pytest.raises(ConfigurationError, match=mentioned):
        config_of(**overrides)


def test_prod_keeps_data_on_delete_and_protects_the_table(prod: Synthesized) -> None:
    (table,) = prod.of_type("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    for log_group in prod.of_type("AWS::Logs::LogGroup").values():
        assert log_group["DeletionPolicy"] == "Retain"
    (key,) = [
        resource
        for logical_id, resource in prod.of_type("AWS::KMS::Key").items()
        if logical_id == prod.logical_id(prod.stack.data.key)
    ]
    assert key["DeletionPolicy"] == "Retain"


def test_prod_logs_at_info(prod: Synthesized) -> None:
    for function in prod.handler_functions().values():
        assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"


def imported_secret_arn(name: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:{name}-??????",
            ],
        ]
    }


def test_prod_reads_the_imported_secrets_by_name_each_only_where_used(prod: Synthesized) -> None:
    assert not prod.of_type("AWS::SecretsManager::Secret")
    names = {
        "STRIPE_SECRET_ID": "callpay/prod/stripe-keys",
        "WEBHOOK_SECRET_ID": "callpay/prod/stripe-webhooks",
        "TOKEN_SECRET_ID": "callpay/prod/patient-tokens",
    }
    used = SECRETS_USED
    roles = {}
    for function in prod.handler_functions().values():
        variables = function["Properties"]["Environment"]["Variables"]
        service = variables["POWERTOOLS_SERVICE_NAME"]
        given = {name for name in variables if name.endswith("_SECRET_ID")}
        assert given == used[service], service
        assert all(variables[name] == names[name] for name in given)
        roles[function["Properties"]["Role"]["Fn::GetAtt"][0]] = service
    readable: dict[str, list[Any]] = {service: [] for service in used}
    for policy in prod.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(action.startswith("secretsmanager:") for action in statement["Action"]):
                for role in policy["Properties"]["Roles"]:
                    readable[roles[role["Ref"]]].append(statement["Resource"])
    for service, variables in used.items():
        expected = [imported_secret_arn(names[variable]) for variable in variables]
        assert sorted(map(json.dumps, readable[service])) == sorted(map(json.dumps, expected))


def test_prod_verifies_the_sender_domain_and_pages_the_on_call_address(prod: Synthesized) -> None:
    prod.template.has_resource_properties(
        "AWS::SES::EmailIdentity", {"EmailIdentity": "callpay.test"}
    )
    prod.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@callpay.test"}
    )


def test_prod_routes_and_cors_follow_the_context(prod: Synthesized) -> None:
    prod.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "JwtConfiguration": {
                "Issuer": "https://login.videoplatform.test/",
                "Audience": ["callpay-api"],
            }
        },
    )
    (api,) = [
        a
        for a in prod.of_type("AWS::ApiGatewayV2::Api").values()
        if a["Properties"]["ProtocolType"] == "HTTP"
    ]
    assert api["Properties"]["CorsConfiguration"]["AllowOrigins"] == [
        "https://app.videoplatform.test",
        "https://admin.videoplatform.test",
    ]
    assert json.dumps(prod.template.to_json()).count("example.com") == 0
