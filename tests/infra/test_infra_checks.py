"""The validators pass on the synthesized template: cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.paths import REPO_ROOT
from tests.infra.conftest import Synthesized

# cfn-lint's settings, read by plain `cfn-lint` in the repository root.
CFN_LINT_CONFIG = REPO_ROOT / ".cfnlintrc"


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
        # The outbox's on-failure queue is itself the dead letters (infra/platform_events.py).
        "AwsSolutions-SQS3",
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
        "GET /openapi.json",
        "$connect",
        "$disconnect",
        "$default",
    }


def test_cfn_lint_config_accepts_only_the_documented_warning_in_the_deploy_regions() -> None:
    config = yaml.safe_load(CFN_LINT_CONFIG.read_text())
    assert config["ignore_checks"] == ["W3005"]
    assert config["regions"] == ["us-east-1", "eu-west-1", "ap-southeast-2"]
    assert "W3005" in (REPO_ROOT / "docs" / "deploy.md").read_text()


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint as a person runs it in the repository root: with .cfnlintrc."""
    return subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_with_the_repository_config_finds_nothing(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue("synthesized" if stage == "dev" else "prod")
    template = synthesized.outdir / f"{synthesized.stack.artifact_id}.template.json"
    result = cfn_lint(template)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_cfn_lint_exits_non_zero_on_a_warning_the_config_does_not_accept(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    """The check above can fail: the same template with one unused parameter (W2001)."""
    template = json.loads(
        (synthesized.outdir / f"{synthesized.stack.artifact_id}.template.json").read_text()
    )
    template.setdefault("Parameters", {})["Unused"] = {"Type": "String"}
    changed = tmp_path / "changed.template.json"
    changed.write_text(json.dumps(template))
    result = cfn_lint(changed)
    assert result.returncode != 0
    assert "W2001" in result.stdout
    assert "W3005" not in result.stdout
