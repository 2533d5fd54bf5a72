"""The validators pass on the synthesized template: cdk-nag and cfn-lint."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

from tests.infra.conftest import Synthesized

# cfn-lint warnings accepted on purpose; docs/deploy.md lists them with the same reasons.
TOLERATED_CFN_LINT_WARNINGS = {
    "W3005": "CDK's Function depends on its role explicitly as well as through GetAtt; "
    "harmless, and the DependsOn on the role's policy that comes with it is needed.",
}
# Regions the stack is expected to deploy to (resource types and properties checked).
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def expected_acknowledgements(synthesized: Synthesized) -> set[str]:
    """Every cdk-nag finding the stack accepts. A new one must be added here on purpose."""
    table = synthesized.logical_id(synthesized.stack.data.table)
    websocket = synthesized.logical_id(synthesized.stack.realtime.api)
    site_bucket = synthesized.logical_id(synthesized.stack.site.bucket)
    sweeper = synthesized.logical_id(synthesized.stack.hold_sweeper.function)
    return {
        "AwsSolutions-APIG4",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
        f"<AWS::AccountId>:<{websocket}>/dev/POST/@connections/*]",
        "AwsSolutions-L1",
        "AwsSolutions-SMG4",
        # The static site (infra/static_site.py): its bucket and distribution...
        "AwsSolutions-S1",
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR2",
        "AwsSolutions-CFR3",
        "AwsSolutions-CFR4",
        # ...and CDK's BucketDeployment function that copies the files.
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        *(
            f"AwsSolutions-IAM5[Action::{action}]"
            for action in (
                "s3:GetObject*",
                "s3:GetBucket*",
                "s3:List*",
                "s3:DeleteObject*",
                "s3:Abort*",
            )
        ),
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
        "<AWS::AccountId>-<AWS::Region>/*]",
        f"AwsSolutions-IAM5[Resource::<{site_bucket}.Arn>/*]",
        "AwsSolutions-IAM5[Resource::*]",
        # The hold sweeper's schedule (infra/hold_sweeps.py): invoking the function's
        # versions, and its dead-letter queue (a schedule's, which cdk-nag cannot see).
        f"AwsSolutions-IAM5[Resource::<{sweeper}.Arn>:*]",
        "AwsSolutions-SQS3",
    }


def test_cdk_nag_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    violations = [
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    assert violations == []


def acknowledgements(synthesized: Synthesized) -> dict[str, set[str]]:
    """rule id -> reasons, from the cdk_nag Metadata written into the template."""
    found: dict[str, set[str]] = {}
    for resource in synthesized.resources.values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.setdefault(rule["id"], set()).add(rule["reason"])
    return found


def test_each_acknowledged_cdk_nag_finding_is_expected_and_explained(
    synthesized: Synthesized,
) -> None:
    acknowledged = acknowledgements(synthesized)
    assert set(acknowledged) == expected_acknowledgements(synthesized)
    for rule, reasons in acknowledged.items():
        assert all(len(reason) >= 40 for reason in reasons), rule


def test_unauthorised_routes_are_exactly_the_ones_the_lambda_authenticates(
    synthesized: Synthesized,
) -> None:
    acknowledged_routes = {
        resource["Properties"]["RouteKey"]
        for resource in synthesized.of_type("AWS::ApiGatewayV2::Route").values()
        if any(
            rule["id"] == "AwsSolutions-APIG4"
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        )
    }
    assert acknowledged_routes == {
        "GET /calls/{call_id}/payment-requests",
        "GET /payment-requests/{id}",
        "POST /payment-requests/{id}/checkout",
        "GET /payment-requests/{id}/receipt",
        "POST /webhooks/stripe",
        "$connect",
        "$disconnect",
        "$default",
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_finds_no_errors_and_only_the_documented_warnings(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue("synthesized" if stage == "dev" else "prod")
    template = synthesized.outdir / f"{synthesized.stack.artifact_id}.template.json"
    matches = lint(template.read_text(), regions=LINT_REGIONS)
    unexpected = [
        f"{match.rule.id} {match.message} (line {match.linenumber})"
        for match in matches
        if match.rule.id not in TOLERATED_CFN_LINT_WARNINGS
    ]
    assert unexpected == []
    assert all(match.rule.id.startswith("W") for match in matches)
