"""The synthesized template holds what a careful deployment of callpay needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from callpay.adapters import table_schema
from callpay.adapters.dynamodb_outbox import STREAM_FILTER
from callpay.config import StripeKeys, TokenKey, WebhookSecrets
from callpay.domain.access import INVOICES_WRITE
from infra.http_api import CLINIC_ROUTES, PAYMENT_REQUEST_ROUTES, PLATFORM_ROUTES, Route
from infra.paths import FUNCTIONS_DIR
from tests.infra.conftest import SECRETS_USED, Synthesized

# DESIGN.md's routes that exist so far, and whether API Gateway checks the clinician JWT.
EXPECTED_ROUTES = {
    "POST /calls/{call_id}/patient-access": ("request_payment", "JWT"),
    "POST /calls/{call_id}/payment-requests": ("request_payment", "JWT"),
    "GET /calls/{call_id}/payment-requests": ("request_payment", "NONE"),
    "GET /payment-requests/{id}": ("request_payment", "NONE"),
    "POST /payment-requests/{id}/checkout": ("request_payment", "NONE"),
    "POST /payment-requests/{id}/cancel": ("request_payment", "JWT"),
    "POST /payment-requests/{id}/capture": ("request_payment", "JWT"),
    "POST /payment-requests/{id}/reauthorize": ("request_payment", "JWT"),
    "POST /payment-requests/{id}/pay-link": ("request_payment", "JWT"),
    "POST /calls/{call_id}/no-show-fees": ("request_payment", "JWT"),
    "POST /payment-requests/{id}/refunds": ("request_payment", "JWT"),
    "GET /payment-requests/{id}/receipt": ("request_payment", "NONE"),
    "POST /webhooks/stripe": ("stripe_webhook", "NONE"),
    "GET /clinics/{clinic_id}/settings": ("clinic_admin", "JWT"),
    "PUT /clinics/{clinic_id}/settings": ("clinic_admin", "JWT"),
    "POST /clinics/{clinic_id}/stripe-account/link": ("clinic_admin", "JWT"),
    "GET /clinics/{clinic_id}/stripe-account": ("clinic_admin", "JWT"),
    "DELETE /clinics/{clinic_id}/stripe-account": ("clinic_admin", "JWT"),
    "GET /clinics/{clinic_id}/payments": ("clinic_admin", "JWT"),
    "GET /clinics/{clinic_id}/audit": ("clinic_admin", "JWT"),
    "GET /payment-requests/{id}/audit": ("clinic_admin", "JWT"),
    "PUT /clinics/{clinic_id}/invoices/{invoice_id}": ("platform_api", "JWT"),
    "GET /clinics/{clinic_id}/invoices": ("platform_api", "JWT"),
    "GET /clinics/{clinic_id}/invoices/{invoice_id}": ("platform_api", "JWT"),
    "POST /orgs/{org_id}/webhook-endpoints": ("platform_api", "JWT"),
    "GET /orgs/{org_id}/webhook-endpoints": ("platform_api", "JWT"),
    "DELETE /orgs/{org_id}/webhook-endpoints/{endpoint_id}": ("platform_api", "JWT"),
    "POST /orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay": ("platform_api", "JWT"),
    "GET /openapi.json": ("api_contract", "NONE"),
    "$default": ("api_contract", "NONE"),
}


def functions_by_service(synthesized: Synthesized) -> dict[str, tuple[str, dict[str, Any]]]:
    found = {}
    for logical_id, resource in synthesized.handler_functions().items():
        variables = resource["Properties"]["Environment"]["Variables"]
        found[variables["POWERTOOLS_SERVICE_NAME"]] = (logical_id, resource["Properties"])
    return found


def referenced_ids(value: Any) -> set[str]:
    """Every logical id a property refers to, however deeply nested."""
    if isinstance(value, list):
        return set().union(*(referenced_ids(item) for item in value))
    if isinstance(value, dict):
        direct = ref_or_getatt(value)
        if direct:
            return {direct}
        return set().union(*(referenced_ids(item) for item in value.values()))
    return set()


def ref_or_getatt(value: Any) -> str | None:
    """The logical id a Ref or GetAtt names (pseudo parameters like AWS::Region are not)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return None if value["Ref"].startswith("AWS::") else str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


# -- data ------------------------------------------------------------------------------


def test_table_keys_ttl_and_indexes_come_from_the_store_schema(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    indexes = [
        {
            "IndexName": name,
            "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}]
            + ([{"AttributeName": sk, "KeyType": "RANGE"}] if sk else []),
            "Projection": {"ProjectionType": "ALL"},
        }
        for name, (pk, sk) in table_schema.INDEXES.items()
    ]
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": table_schema.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": table_schema.SORT_KEY, "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {
                "AttributeName": table_schema.TTL_ATTRIBUTE,
                "Enabled": True,
            },
            "GlobalSecondaryIndexes": Match.array_equals(indexes),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            },
        },
    )


def test_table_attribute_definitions_match_the_local_create_table_request(
    synthesized: Synthesized,
) -> None:
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    local = table_schema.create_table_request("any")
    assert sorted(table["Properties"]["AttributeDefinitions"], key=str) == sorted(
        local["AttributeDefinitions"], key=str
    )


def test_table_streams_new_items_to_the_outbox_reader(synthesized: Synthesized) -> None:
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["StreamSpecification"] == {
        "StreamViewType": table_schema.STREAM_VIEW
    }
    stack = synthesized.stack
    function = synthesized.logical_id(stack.platform_outbox.function)
    table_id = synthesized.logical_id(stack.data.table)
    (mapping,) = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (pattern,) = mapping["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == STREAM_FILTER
    failures = synthesized.logical_id(stack.platform_events.outbox_failures)
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [failures, "Arn"]
    }


def test_dev_stage_table_is_removable_and_its_key_rotates(synthesized: Synthesized) -> None:
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"].get("DeletionProtectionEnabled") is not True
    key_id = synthesized.logical_id(synthesized.stack.data.key)
    assert synthesized.resources[key_id]["Properties"]["EnableKeyRotation"] is True
    assert ref_or_getatt(table["Properties"]["SSESpecification"]["KMSMasterKeyId"]) == key_id


# -- functions -------------------------------------------------------------------------


def test_one_function_per_existing_handler_on_python_313_x86_64(
    synthesized: Synthesized,
) -> None:
    functions = functions_by_service(synthesized)
    assert set(functions) == {
        "request_payment",
        "stripe_webhook",
        "realtime",
        "send_receipt",
        "clinic_admin",
        "platform_api",
        "platform_outbox",
        "platform_delivery",
        "api_contract",
        "hold_sweeper",
    }
    timeouts = {"send_receipt": 30, "platform_outbox": 30, "platform_delivery": 60,
                "hold_sweeper": 300}  # fmt: skip
    for service, (_, properties) in functions.items():
        assert properties["Handler"] == f"{service}.handler.lambda_handler"
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["x86_64"]
        assert properties["MemorySize"] == 512
        # API-facing functions answer well inside API Gateway's 30 s; the queue worker
        # gets longer (the queue's visibility timeout is six times that), and the hold
        # sweeper, which asks Stripe about each lapsed hold, longer still.
        assert properties["Timeout"] == timeouts.get(service, 10)
        # No Tracer in the handlers, so no X-Ray tracing.
        assert "TracingConfig" not in properties


def test_every_handler_ships_in_one_shared_asset(synthesized: Synthesized) -> None:
    keys = {props["Code"]["S3Key"] for _, props in functions_by_service(synthesized).values()}
    assert len(keys) == 1


def secret_ids(synthesized: Synthesized) -> dict[str, str]:
    """env variable -> the logical id of the secret it names."""
    secrets = synthesized.stack.secrets
    return {
        "STRIPE_SECRET_ID": synthesized.logical_id(secrets.stripe.secret),
        "WEBHOOK_SECRET_ID": synthesized.logical_id(secrets.webhook.secret),
        "TOKEN_SECRET_ID": synthesized.logical_id(secrets.token.secret),
    }


def test_functions_get_settings_and_their_secrets_ids_but_no_secret_values(
    synthesized: Synthesized,
) -> None:
    table_id = synthesized.logical_id(synthesized.stack.data.table)
    secrets = secret_ids(synthesized)
    assert len(set(secrets.values())) == 3
    functions = functions_by_service(synthesized)
    assert set(functions) == set(SECRETS_USED)
    for service, (_, properties) in functions.items():
        variables = properties["Environment"]["Variables"]
        if service == "api_contract":  # serves a file: no table
            assert "TABLE_NAME" not in variables
        else:
            assert ref_or_getatt(variables["TABLE_NAME"]) == table_id
        assert variables["POWERTOOLS_SERVICE_NAME"] == service
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "callpay"
        assert variables["POWERTOOLS_LOG_LEVEL"] == "DEBUG"  # dev stage
        assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
        # ENDPOINT_SECRET_KEY_ID is the ARN of the KMS key sealing endpoint secrets.
        secretish = {
            name
            for name in variables
            if ("KEY" in name or "SECRET" in name) and name != "ENDPOINT_SECRET_KEY_ID"
        }
        assert secretish == SECRETS_USED[service], service
        for name in secretish:
            assert ref_or_getatt(variables[name]) == secrets[name], (service, name)
        assert "CALLPAY_SECRET_ID" not in variables


def test_functions_that_check_clinician_jwts_get_the_configured_issuer(
    synthesized: Synthesized,
) -> None:
    for service, (_, properties) in functions_by_service(synthesized).items():
        variables = properties["Environment"]["Variables"]
        if service in {"request_payment", "realtime", "clinic_admin", "platform_api"}:
            assert variables["JWT_ISSUER"] == "https://idp.example.com/"
            assert variables["JWT_AUDIENCE"] == "callpay"
            assert variables["JWKS_URL"] == "https://idp.example.com/.well-known/jwks.json"
        else:
            assert "JWT_ISSUER" not in variables


def test_functions_that_push_updates_get_this_stages_connections_endpoint(
    synthesized: Synthesized,
) -> None:
    api = synthesized.logical_id(synthesized.stack.realtime.api)
    for service, (_, properties) in functions_by_service(synthesized).items():
        variables = properties["Environment"]["Variables"]
        if service not in {"request_payment", "stripe_webhook", "realtime", "hold_sweeper"}:
            assert "WEBSOCKET_CALLBACK_URL" not in variables
            continue
        url = variables["WEBSOCKET_CALLBACK_URL"]["Fn::Join"][1]
        assert url[0] == "https://"
        assert url[1] == {"Ref": api}
        assert url[-1] == "/dev"


def test_receipt_settings_go_to_the_functions_that_use_them(synthesized: Synthesized) -> None:
    queue = synthesized.logical_id(synthesized.stack.receipts.queue)
    configuration_set = synthesized.logical_id(synthesized.stack.receipts.configuration_set)
    for service, (_, properties) in functions_by_service(synthesized).items():
        variables = properties["Environment"]["Variables"]
        if service in {"request_payment", "stripe_webhook", "hold_sweeper"}:
            assert variables["RECEIPT_QUEUE_URL"] == {"Ref": queue}
        else:
            assert "RECEIPT_QUEUE_URL" not in variables
        if service in {"request_payment", "send_receipt"}:
            assert variables["RECEIPT_SENDER"] == "receipts@example.com"
            assert variables["SES_CONFIGURATION_SET"] == {"Ref": configuration_set}
        else:
            assert "RECEIPT_SENDER" not in variables


def resolver_routes(handler_file: Path) -> set[str]:
    """The routes a Powertools resolver declares, path parameters written as {}."""
    declared = re.findall(r'@app\.(get|post|put|delete|patch)\("([^"]+)"', handler_file.read_text())
    return {f"{method.upper()} {re.sub(r'<[^>]+>', '{}', path)}" for method, path in declared}


@pytest.mark.parametrize(
    ("routes", "function"),
    [
        (PAYMENT_REQUEST_ROUTES, "request_payment"),
        (CLINIC_ROUTES, "clinic_admin"),
        (PLATFORM_ROUTES, "platform_api"),
    ],
)
def test_api_gateway_routes_exactly_what_each_function_resolves(
    routes: tuple[Route, ...], function: str
) -> None:
    routed = {re.sub(r"{[^}]+}", "{}", route.key) for route in routes}
    assert routed == resolver_routes(FUNCTIONS_DIR / function / "handler.py")


def test_each_function_logs_to_its_own_group_kept_one_month(synthesized: Synthesized) -> None:
    groups = synthesized.of_type("AWS::Logs::LogGroup")
    for _, properties in functions_by_service(synthesized).values():
        group_id = ref_or_getatt(properties["LoggingConfig"]["LogGroup"])
        assert group_id in groups
        assert groups[group_id]["Properties"]["RetentionInDays"] == 30
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())


# -- IAM -------------------------------------------------------------------------------


def statements_of(synthesized: Synthesized, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = synthesized.resources[role_id]["Properties"]
    for inline in role.get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def resource_ids(resource: Any) -> set[str]:
    """The logical ids a statement's Resource refers to ('*' and literals as themselves)."""
    if isinstance(resource, list):
        return set().union(*(resource_ids(r) for r in resource))
    if isinstance(resource, str):
        return {resource}
    direct = ref_or_getatt(resource)
    if direct or "Ref" in resource:
        return {direct} if direct else set()
    joined = resource.get("Fn::Join", [None, []])[1]
    return set().union(*(resource_ids(part) for part in joined if not isinstance(part, str)))


def permissions_of(synthesized: Synthesized, role_id: str) -> dict[str, set[str]]:
    """action -> logical ids (or literal ARNs) it is allowed on."""
    allowed: dict[str, set[str]] = {}
    for statement in statements_of(synthesized, role_id):
        assert statement["Effect"] == "Allow"
        assert "NotResource" not in statement and "NotAction" not in statement
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            allowed.setdefault(action, set()).update(resource_ids(statement["Resource"]))
    return allowed


def test_each_function_may_use_exactly_what_it_needs(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    table = synthesized.logical_id(stack.data.table)
    key = synthesized.logical_id(stack.data.key)
    secrets = secret_ids(synthesized)
    websocket = synthesized.logical_id(stack.realtime.api)
    queue = synthesized.logical_id(stack.receipts.queue)
    identity = synthesized.logical_id(stack.receipts.identity)
    configuration_set = synthesized.logical_id(stack.receipts.configuration_set)
    shared = {
        "dynamodb:GetItem": {table},
        "dynamodb:Query": {table},
        "dynamodb:PutItem": {table},
        "dynamodb:UpdateItem": {table},
        "dynamodb:DeleteItem": {table},
        "dynamodb:ConditionCheckItem": {table},
        "kms:Decrypt": {key},
        "kms:DescribeKey": {key},
        "kms:Encrypt": {key},
        "kms:ReEncrypt*": {key},
        "kms:GenerateDataKey*": {key},
    }
    pushes = {"execute-api:ManageConnections": {websocket}}
    events = stack.platform_events
    deliveries = synthesized.logical_id(events.queue)
    secrets_key = synthesized.logical_id(events.secrets_key)
    failures = synthesized.logical_id(events.outbox_failures)
    enqueue = {
        "sqs:SendMessage": {deliveries},
        "sqs:GetQueueAttributes": {deliveries},
        "sqs:GetQueueUrl": {deliveries},
    }
    extra = {
        stack.request_payment: {
            **pushes,
            "sqs:SendMessage": {queue},
            "sqs:GetQueueAttributes": {queue},
            "sqs:GetQueueUrl": {queue},
        },
        stack.realtime_handler: pushes,
        stack.stripe_webhook: {
            **pushes,
            "sqs:SendMessage": {queue},
            "sqs:GetQueueAttributes": {queue},
            "sqs:GetQueueUrl": {queue},
        },
        stack.clinic_admin: {},
        stack.hold_sweeper: {
            **pushes,
            "sqs:SendMessage": {queue},
            "sqs:GetQueueAttributes": {queue},
            "sqs:GetQueueUrl": {queue},
        },
        stack.send_receipt: {
            "sqs:ReceiveMessage": {queue},
            "sqs:ChangeMessageVisibility": {queue},
            "sqs:DeleteMessage": {queue},
            "sqs:GetQueueAttributes": {queue},
            "sqs:GetQueueUrl": {queue},
            "ses:SendEmail": {identity, configuration_set},
            "ses:SendRawEmail": {identity, configuration_set},
        },
        # Seals endpoint secrets (never opens one), queues replays.
        stack.platform_api: {**enqueue, "kms:Encrypt": {key, secrets_key}},
        stack.platform_outbox: {
            **enqueue,
            "sqs:SendMessage": {deliveries, failures},
            "sqs:GetQueueAttributes": {deliveries, failures},
            "sqs:GetQueueUrl": {deliveries, failures},
            "dynamodb:DescribeStream": {table},
            "dynamodb:GetRecords": {table},
            "dynamodb:GetShardIterator": {table},
        },
        # Opens endpoint secrets to sign, consumes the delivery queue.
        stack.platform_delivery: {
            "kms:Decrypt": {key, secrets_key},
            "sqs:ReceiveMessage": {deliveries},
            "sqs:ChangeMessageVisibility": {deliveries},
            "sqs:DeleteMessage": {deliveries},
            "sqs:GetQueueAttributes": {deliveries},
            "sqs:GetQueueUrl": {deliveries},
        },
    }
    assert set(extra) | {stack.api_contract} == set(stack.handlers)
    for handler, own in extra.items():
        logs = synthesized.logical_id(handler.log_group)
        permissions = permissions_of(synthesized, synthesized.logical_id(handler.role))
        readable = {secrets[variable] for variable in SECRETS_USED[handler.service]}
        reads = (
            {"secretsmanager:GetSecretValue": readable, "secretsmanager:DescribeSecret": readable}
            if readable
            else {}
        )
        assert permissions == {
            "logs:CreateLogStream": {logs},
            "logs:PutLogEvents": {logs},
            **shared,
            **reads,
            **own,
        }, handler.service
    # api_contract serves a file it ships with: its own log group and nothing else.
    logs = synthesized.logical_id(stack.api_contract.log_group)
    assert permissions_of(synthesized, synthesized.logical_id(stack.api_contract.role)) == {
        "logs:CreateLogStream": {logs},
        "logs:PutLogEvents": {logs},
    }


def test_only_stripe_webhook_may_read_the_webhook_secrets_and_realtime_only_the_token(
    synthesized: Synthesized,
) -> None:
    """The point of three secrets, said directly: who can read the live Stripe key."""
    secrets = secret_ids(synthesized)
    readers: dict[str, set[str]] = {variable: set() for variable in secrets}
    for service, (_, properties) in functions_by_service(synthesized).items():
        role = ref_or_getatt(properties["Role"])
        assert role is not None
        readable = permissions_of(synthesized, role).get("secretsmanager:GetSecretValue", set())
        for variable, secret in secrets.items():
            if secret in readable:
                readers[variable].add(service)
    assert readers == {
        "STRIPE_SECRET_ID": {"request_payment", "send_receipt", "clinic_admin", "hold_sweeper"},
        "WEBHOOK_SECRET_ID": {"stripe_webhook"},
        "TOKEN_SECRET_ID": {"request_payment", "realtime", "send_receipt"},
    }


def test_connections_permission_is_post_on_this_stage_only(synthesized: Synthesized) -> None:
    websocket = synthesized.logical_id(synthesized.stack.realtime.api)
    role = synthesized.logical_id(synthesized.stack.stripe_webhook.role)
    (statement,) = [
        s
        for s in statements_of(synthesized, role)
        if s["Action"] == "execute-api:ManageConnections"
    ]
    parts = statement["Resource"]["Fn::Join"][1]
    assert parts[parts.index({"Ref": websocket}) + 1] == "/dev/POST/@connections/*"
    assert parts[:3] == ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:"]


def test_ses_permission_names_the_identity_and_configuration_set(
    synthesized: Synthesized,
) -> None:
    role = synthesized.logical_id(synthesized.stack.send_receipt.role)
    (statement,) = [s for s in statements_of(synthesized, role) if "ses:SendEmail" in s["Action"]]
    resources = [part["Fn::Join"][1] for part in statement["Resource"]]
    assert [r[-2] for r in resources] == [":identity/", ":configuration-set/"]


def test_table_wildcards_cover_only_this_tables_indexes(synthesized: Synthesized) -> None:
    table = synthesized.logical_id(synthesized.stack.data.table)
    role = synthesized.logical_id(synthesized.stack.request_payment.role)
    for statement in statements_of(synthesized, role):
        if statement["Action"][0].startswith("dynamodb:"):
            assert statement["Resource"] == [
                {"Fn::GetAtt": [table, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, "/index/*"]]},
            ]


def test_no_statement_in_the_stack_allows_every_resource(synthesized: Synthesized) -> None:
    # None of today's services needs it (no X-Ray, metrics go out as EMF log lines).
    # CDK's BucketDeployment invalidates the site's distribution, which IAM cannot name.
    deployment = synthesized.site_deployment_role()
    for role_id in synthesized.of_type("AWS::IAM::Role"):
        for action, resources in permissions_of(synthesized, role_id).items():
            if role_id == deployment and action.startswith("cloudfront:"):
                continue
            assert "*" not in resources, f"{role_id} may {action} on every resource"


def test_only_the_api_gateway_logs_role_uses_a_managed_policy(synthesized: Synthesized) -> None:
    with_managed = {
        role_id
        for role_id, role in synthesized.of_type("AWS::IAM::Role").items()
        if role["Properties"].get("ManagedPolicyArns")
    }
    assert with_managed == {
        synthesized.logical_id(synthesized.stack.realtime.logs_role),
        # CDK's BucketDeployment function (the static site's files), basic execution only.
        synthesized.site_deployment_role(),
    }


def test_api_gateway_may_invoke_functions_only_from_this_stacks_apis(
    synthesized: Synthesized,
) -> None:
    http = synthesized.logical_id(synthesized.stack.http_api.api)
    websocket = synthesized.logical_id(synthesized.stack.realtime.api)
    functions = {lid: service for service, (lid, _) in functions_by_service(synthesized).items()}
    invokers: dict[str, set[str]] = {}
    for permission in synthesized.of_type("AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        assert properties["Principal"] == "apigateway.amazonaws.com"
        source = properties["SourceArn"]["Fn::Join"][1]
        (api,) = [part["Ref"] for part in source if part in ({"Ref": http}, {"Ref": websocket})]
        service = functions[ref_or_getatt(properties["FunctionName"]) or ""]
        invokers.setdefault(service, set()).add(api)
    assert invokers == {
        "request_payment": {http},
        "stripe_webhook": {http},
        "clinic_admin": {http},
        "platform_api": {http},
        "api_contract": {http},
        "realtime": {websocket},
    }


# -- HTTP API --------------------------------------------------------------------------


def test_routes_go_to_their_function_with_the_jwt_authorizer_only_where_designed(
    synthesized: Synthesized,
) -> None:
    functions = {lid: service for service, (lid, _) in functions_by_service(synthesized).items()}
    integrations = synthesized.of_type("AWS::ApiGatewayV2::Integration")
    integration_target = {
        lid: functions[(referenced_ids(i["Properties"]["IntegrationUri"]) & set(functions)).pop()]
        for lid, i in integrations.items()
    }
    (authorizer_id,) = synthesized.of_type("AWS::ApiGatewayV2::Authorizer")
    http = synthesized.logical_id(synthesized.stack.http_api.api)
    routes = {}
    for route in synthesized.of_type("AWS::ApiGatewayV2::Route").values():
        properties = route["Properties"]
        if properties["ApiId"] != {"Ref": http}:
            continue
        target = properties["Target"]["Fn::Join"][1][1]["Ref"]
        routes[properties["RouteKey"]] = (
            integration_target[target],
            properties["AuthorizationType"],
        )
        if properties["AuthorizationType"] == "JWT":
            assert properties["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert "AuthorizerId" not in properties
    assert routes == EXPECTED_ROUTES


def test_only_the_backends_invoice_upsert_requires_a_scope_at_the_gateway(
    synthesized: Synthesized,
) -> None:
    scoped = {
        route["Properties"]["RouteKey"]: route["Properties"]["AuthorizationScopes"]
        for route in synthesized.of_type("AWS::ApiGatewayV2::Route").values()
        if route["Properties"].get("AuthorizationScopes")
    }
    assert scoped == {"PUT /clinics/{clinic_id}/invoices/{invoice_id}": [INVOICES_WRITE]}


def test_integrations_use_the_v2_payload_the_resolver_expects(synthesized: Synthesized) -> None:
    http = synthesized.logical_id(synthesized.stack.http_api.api)
    integrations = [
        i
        for i in synthesized.of_type("AWS::ApiGatewayV2::Integration").values()
        if i["Properties"]["ApiId"] == {"Ref": http}
    ]
    # request_payment, stripe_webhook, clinic_admin, platform_api, api_contract (its routes
    # and $default)
    assert len(integrations) == 5
    for integration in integrations:
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
        assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def test_jwt_authorizer_takes_issuer_and_audience_from_context(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": "https://idp.example.com/", "Audience": ["callpay"]},
        },
    )


def test_http_stage_is_throttled_and_access_logged_as_json(synthesized: Synthesized) -> None:
    api = synthesized.logical_id(synthesized.stack.http_api.api)
    logs = synthesized.logical_id(synthesized.stack.http_api.access_logs)
    (stage,) = [
        s["Properties"]
        for s in synthesized.of_type("AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == {"Ref": api}
    ]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    # Stripe's webhook and the route misses ($default) have a lower throttle of their own.
    assert stage["RouteSettings"] == {
        "POST /webhooks/stripe": {"ThrottlingBurstLimit": 40, "ThrottlingRateLimit": 20},
        "$default": {"ThrottlingBurstLimit": 40, "ThrottlingRateLimit": 20},
    }
    (stage_id,) = [
        lid
        for lid, s in synthesized.of_type("AWS::ApiGatewayV2::Stage").items()
        if s["Properties"]["ApiId"] == {"Ref": api}
    ]
    webhook_route = synthesized.logical_id(
        synthesized.stack.http_api.routes["POST /webhooks/stripe"]
    )
    assert webhook_route in synthesized.resources[stage_id]["DependsOn"]
    assert ref_or_getatt(stage["AccessLogSettings"]["DestinationArn"]) == logs
    fields = json.loads(stage["AccessLogSettings"]["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    assert not any("querystring" in value.lower() for value in fields.values())


def test_cors_allows_the_configured_origins_and_the_headers_clients_send(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "ProtocolType": "HTTP",
            "CorsConfiguration": {
                "AllowOrigins": ["http://localhost:5173"],
                "AllowHeaders": Match.array_with(["authorization", "idempotency-key"]),
                "ExposeHeaders": Match.array_with(["location"]),
                "AllowCredentials": False,
            },
        },
    )


# -- realtime --------------------------------------------------------------------------


def test_websocket_api_has_an_auto_deployed_throttled_logged_stage(
    synthesized: Synthesized,
) -> None:
    api = synthesized.logical_id(synthesized.stack.realtime.api)
    assert synthesized.resources[api]["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert synthesized.resources[api]["Properties"]["RouteSelectionExpression"] == (
        "$request.body.action"
    )
    (stage,) = [
        s["Properties"]
        for s in synthesized.of_type("AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == {"Ref": api}
    ]
    assert stage["StageName"] == "dev"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 50
    logs = synthesized.logical_id(synthesized.stack.realtime.access_logs)
    assert ref_or_getatt(stage["AccessLogSettings"]["DestinationArn"]) == logs


def test_websocket_routes_all_go_to_the_realtime_function(synthesized: Synthesized) -> None:
    api = synthesized.logical_id(synthesized.stack.realtime.api)
    realtime = synthesized.logical_id(synthesized.stack.realtime_handler.function)
    integrations = synthesized.of_type("AWS::ApiGatewayV2::Integration")
    routes = {}
    for route in synthesized.of_type("AWS::ApiGatewayV2::Route").values():
        properties = route["Properties"]
        if properties["ApiId"] != {"Ref": api}:
            continue
        integration = integrations[properties["Target"]["Fn::Join"][1][1]["Ref"]]["Properties"]
        (target,) = referenced_ids(integration["IntegrationUri"])
        routes[properties["RouteKey"]] = target
        assert properties["AuthorizationType"] == "NONE"
    assert routes == {"$connect": realtime, "$disconnect": realtime, "$default": realtime}


def test_websocket_logging_has_the_account_role_it_needs(synthesized: Synthesized) -> None:
    (account,) = synthesized.of_type("AWS::ApiGateway::Account").values()
    role = synthesized.logical_id(synthesized.stack.realtime.logs_role)
    assert ref_or_getatt(account["Properties"]["CloudWatchRoleArn"]) == role
    assert synthesized.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ] == {"Service": "apigateway.amazonaws.com"}


# -- receipts --------------------------------------------------------------------------


def test_receipt_queue_redrives_to_an_encrypted_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    queue = synthesized.resources[synthesized.logical_id(synthesized.stack.receipts.queue)]
    dlq_id = synthesized.logical_id(synthesized.stack.receipts.dead_letters)
    dlq = synthesized.resources[dlq_id]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["VisibilityTimeout"] == 180


def test_queues_refuse_requests_without_tls(synthesized: Synthesized) -> None:
    policies = synthesized.of_type("AWS::SQS::QueuePolicy").values()
    # Receipts and their dead letters; deliveries, their dead letters, the outbox's failures;
    # the hold sweeper's dead letters.
    assert len(policies) == 6
    for policy in policies:
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_send_receipt_consumes_the_queue_reporting_failures_per_message(
    synthesized: Synthesized,
) -> None:
    queue = synthesized.logical_id(synthesized.stack.receipts.queue)
    function = synthesized.logical_id(synthesized.stack.send_receipt.function)
    (mapping,) = [
        m
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["Properties"]["FunctionName"] == {"Ref": function}
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_ses_identity_sends_through_the_receipts_configuration_set(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SES::ConfigurationSet",
        {
            "Name": "callpay-dev-receipts",
            "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
            "ReputationOptions": {"ReputationMetricsEnabled": True},
            "SendingOptions": {"SendingEnabled": True},
            "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
        },
    )
    template.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {
            "EmailIdentity": "receipts@example.com",
            "ConfigurationSetAttributes": {"ConfigurationSetName": Match.any_value()},
        },
    )


# -- secrets ---------------------------------------------------------------------------


def test_each_secret_is_generated_with_exactly_the_keys_its_functions_read(
    synthesized: Synthesized,
) -> None:
    secrets = synthesized.stack.secrets

    def created(construct: Any) -> dict[str, Any]:
        properties: dict[str, Any] = synthesized.resources[synthesized.logical_id(construct)][
            "Properties"
        ]
        return properties

    # The Stripe keys and webhook secrets stay empty until an operator fills them: no
    # fake key in the template, and the functions refuse the empty values until then.
    stripe = created(secrets.stripe.secret)
    assert stripe["Name"] == "callpay/dev/stripe"
    assert "GenerateSecretString" not in stripe
    assert json.loads(stripe["SecretString"]) == {
        "stripe_api_key": "",
        "stripe_publishable_key": "",
    }
    assert set(StripeKeys.model_fields) == {"stripe_api_key", "stripe_publishable_key"}

    webhook = created(secrets.webhook.secret)
    assert webhook["Name"] == "callpay/dev/webhook"
    assert "GenerateSecretString" not in webhook
    assert json.loads(webhook["SecretString"]) == {"webhook_secrets": []}
    assert set(WebhookSecrets.model_fields) == {"webhook_secrets"}

    # The patient token key alone, generated by Secrets Manager: never in the template.
    token = created(secrets.token.secret)
    assert token["Name"] == "callpay/dev/token"
    assert "SecretString" not in token
    generated = token["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {}
    assert generated["GenerateStringKey"] == "patient_token_key"
    assert generated["PasswordLength"] >= 32
    assert set(TokenKey.model_fields) == {"patient_token_key"}

    assert len(synthesized.of_type("AWS::SecretsManager::Secret")) == 3


# -- monitoring ------------------------------------------------------------------------


def alarms_by_metric(synthesized: Synthesized) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if "Metrics" in properties:  # a math expression: the metrics it sums
            for query in properties["Metrics"]:
                if "MetricStat" in query:
                    metric = query["MetricStat"]["Metric"]
                    found.setdefault((metric["Namespace"], metric["MetricName"]), []).append(
                        properties
                    )
            continue
        found.setdefault((properties["Namespace"], properties["MetricName"]), []).append(properties)
    return found


def test_alarms_cover_5xx_errors_throttles_dead_letters_and_bad_signatures(
    synthesized: Synthesized,
) -> None:
    alarms = alarms_by_metric(synthesized)
    api = synthesized.logical_id(synthesized.stack.http_api.api)
    (server_errors,) = alarms[("AWS/ApiGateway", "5xx")]
    assert server_errors["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": api}}]

    functions = {lid for lid, _ in functions_by_service(synthesized).values()}
    for metric in ("Errors", "Throttles"):
        watched = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms[("AWS/Lambda", metric)]}
        assert watched == functions, metric

    stack = synthesized.stack
    dead_letters = [stack.receipts.dead_letters, stack.platform_events.dead_letters,
                    stack.platform_events.outbox_failures,
                    stack.hold_sweeps.dead_letters]  # fmt: skip
    depths = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert sorted(json.dumps(d["Dimensions"]) for d in depths) == sorted(
        json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [lid, "QueueName"]}}])
        for lid in map(synthesized.logical_id, dead_letters)
    )
    for depth in depths:
        assert depth["Threshold"] == 1
        assert depth["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"

    (signatures,) = alarms[("callpay", "WebhookSignatureFailures")]
    assert signatures["Dimensions"] == [{"Name": "service", "Value": "stripe_webhook"}]
    assert signatures["Statistic"] == "Sum"
    assert signatures["Threshold"] == 10


def test_alarms_cover_the_websocket_api_and_the_tables_throttles_and_errors(
    synthesized: Synthesized,
) -> None:
    alarms = alarms_by_metric(synthesized)
    api = synthesized.logical_id(synthesized.stack.realtime.api)
    for metric in ("ExecutionError", "IntegrationError"):
        (alarm,) = alarms[("AWS/ApiGateway", metric)]
        assert alarm["Dimensions"] == [
            {"Name": "ApiId", "Value": {"Ref": api}},
            {"Name": "Stage", "Value": "dev"},
        ]
    table = synthesized.logical_id(synthesized.stack.data.table)
    for metric in ("ThrottledRequests", "SystemErrors"):
        (alarm,) = {id(a): a for a in alarms[("AWS/DynamoDB", metric)]}.values()
        operations = {
            dimension["Value"]
            for query in alarm["Metrics"]
            if "MetricStat" in query
            for dimension in query["MetricStat"]["Metric"]["Dimensions"]
            if dimension["Name"] == "Operation"
        }
        assert {"GetItem", "PutItem", "Query", "TransactWriteItems"} <= operations, metric
        assert all(
            {"Name": "TableName", "Value": {"Ref": table}}
            in query["MetricStat"]["Metric"]["Dimensions"]
            for query in alarm["Metrics"]
            if "MetricStat" in query
        )


def test_every_alarm_notifies_the_encrypted_alarm_topic(synthesized: Synthesized) -> None:
    topic = synthesized.logical_id(synthesized.stack.monitoring.topic)
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm").values()
    # HTTP 5xx, four dead-letter queues, signatures; WebSocket x2; table x2; per function x2.
    assert len(alarms) == 6 + 2 + 2 + 2 * len(synthesized.stack.handlers)
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
    key = synthesized.logical_id(synthesized.stack.monitoring.key)
    assert ref_or_getatt(synthesized.resources[topic]["Properties"]["KmsMasterKeyId"]) == key
    key_policy = synthesized.resources[key]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in key_policy if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_dashboard_shows_api_functions_dead_letters_and_signatures(
    synthesized: Synthesized,
) -> None:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "HttpApi: requests and errors",
        "request_payment: invocations",
        "stripe_webhook: invocations",
        "realtime: invocations",
        "send_receipt: invocations",
        "ReceiptDeadLetters: messages",
        "Stripe webhook signature failures",
    ):
        assert title in body


def test_outputs_tell_the_operator_what_to_configure(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    for name in (
        "HttpApiUrl",
        "StripeWebhookUrl",
        "WebSocketUrl",
        "TableName",
        "StripeSecretId",
        "WebhookSecretId",
        "TokenSecretId",
        "SesIdentity",
        "ReceiptQueueUrl",
        "AlarmTopicArn",
    ):
        assert name in outputs
    assert "SecretId" not in outputs  # the one secret of old


def test_each_secrets_output_names_that_secret(synthesized: Synthesized) -> None:
    outputs = synthesized.template.to_json()["Outputs"]
    secrets = secret_ids(synthesized)
    for output, variable in (
        ("StripeSecretId", "STRIPE_SECRET_ID"),
        ("WebhookSecretId", "WEBHOOK_SECRET_ID"),
        ("TokenSecretId", "TOKEN_SECRET_ID"),
    ):
        assert ref_or_getatt(outputs[output]["Value"]) == secrets[variable], output


def test_clinic_admin_gets_the_connect_return_and_refresh_urls(synthesized: Synthesized) -> None:
    for service, (_, properties) in functions_by_service(synthesized).items():
        variables = properties["Environment"]["Variables"]
        if service == "clinic_admin":
            assert "{clinic_id}" in variables["CONNECT_RETURN_URL"]
            assert "{clinic_id}" in variables["CONNECT_REFRESH_URL"]
        else:
            assert "CONNECT_RETURN_URL" not in variables
