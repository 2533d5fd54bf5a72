"""One synthesized app shared by every infra test: synthesis (with cdk-nag) runs once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import CfnElement
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.app import build_app
from infra.stack import CallpayStack

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


PROD_CONTEXT = {
    "stage": "prod",
    "jwt_issuer": "https://login.videoplatform.test/",
    "jwt_audience": "callpay-api",
    "sender_email": "receipts@callpay.test",
    "sender_domain": "callpay.test",
    "stripe_secret_name": "callpay/prod/stripe-keys",
    "webhook_secret_name": "callpay/prod/stripe-webhooks",
    "token_secret_name": "callpay/prod/patient-tokens",
    "cors_origins": "https://app.videoplatform.test,https://admin.videoplatform.test",
    "alarm_email": "oncall@callpay.test",
    "connect_return_url": "https://app.videoplatform.test/clinics/{clinic_id}/stripe-return",
    "connect_refresh_url": "https://app.videoplatform.test/clinics/{clinic_id}/stripe-refresh",
}

# Which function reads which secret (env variable and read grant), and nothing else.
SECRETS_USED = {
    "request_payment": {"STRIPE_SECRET_ID", "TOKEN_SECRET_ID"},
    "stripe_webhook": {"WEBHOOK_SECRET_ID"},
    "realtime": {"TOKEN_SECRET_ID"},
    # The token key mints a pay-later link's token into its e-mail.
    "send_receipt": {"STRIPE_SECRET_ID", "TOKEN_SECRET_ID"},
    # Not the patient token key: every clinic route is for clinicians and admins.
    "clinic_admin": {"STRIPE_SECRET_ID"},
    "platform_api": set(),
    "platform_outbox": set(),
    "platform_delivery": set(),
    # Serves the document it ships with: no secret at all.
    "api_contract": set(),
    "hold_sweeper": {"STRIPE_SECRET_ID"},
}


@dataclass(frozen=True)
class Synthesized:
    stack: CallpayStack
    outdir: Path
    template: Template

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.to_json()["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def handler_functions(self) -> dict[str, dict[str, Any]]:
        """callpay's own functions (each names its Powertools service), without the
        function CDK's BucketDeployment adds to copy the static site."""
        return {
            logical_id: resource
            for logical_id, resource in self.of_type("AWS::Lambda::Function").items()
            if "POWERTOOLS_SERVICE_NAME"
            in resource["Properties"].get("Environment", {}).get("Variables", {})
        }

    def site_deployment_role(self) -> str:
        """The role of CDK's BucketDeployment function (infra/static_site.py)."""
        (role,) = {
            resource["Properties"]["Role"]["Fn::GetAtt"][0]
            for logical_id, resource in self.of_type("AWS::Lambda::Function").items()
            if logical_id not in self.handler_functions()
        }
        return role

    def logical_id(self, construct: IConstruct) -> str:
        """The logical id of a construct's CloudFormation resource in the template."""
        element = cast(CfnElement, construct.node.default_child or construct)
        return str(self.stack.resolve(self.stack.get_logical_id(element)))


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    app, stack = build_app(outdir=str(outdir), context=context)
    try:
        app.synth()
    except RuntimeError:
        report = outdir / "validation-report.json"
        if report.is_file():
            violations = [
                f"{violation['ruleName']} at {construct['constructPath']}"
                for plugin in json.loads(report.read_text())["pluginReports"]
                for violation in plugin["violations"]
                for construct in violation["violatingConstructs"]
            ]
            pytest.fail("cdk-nag findings not acknowledged:\n" + "\n".join(violations))
        raise
    return Synthesized(stack=stack, outdir=outdir, template=Template.from_stack(stack))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app as `make synth` builds it: cdk.json's context, the dev stage."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """A second synthesis, the prod stage: retention, imported secrets, a domain."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out.prod"), context=PROD_CONTEXT)
