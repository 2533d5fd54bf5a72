"""The one Secrets Manager secret the functions read at run time (never env values).

Its JSON is callpay.config.Secrets: the Stripe keys, the webhook signing secrets and
the key that signs patient access tokens. The stack generates the token key and leaves
the Stripe values empty for an operator to fill in after deploy (docs/deploy.md).
Until then the functions' Secrets model rejects the empty values, so nothing ever
calls Stripe with a placeholder key.
"""

from __future__ import annotations

import json

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import CallpayConfig
from infra.functions import HandlerFunction
from infra.nag import acknowledge

# The keys of callpay.config.Secrets; the generated one is the patient token key.
PLACEHOLDER_JSON = {"stripe_api_key": "", "stripe_publishable_key": "", "webhook_secrets": []}
GENERATED_KEY = "patient_token_key"


class AppSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CallpayConfig) -> None:
        super().__init__(scope, construct_id)
        if config.stripe_secret_name:
            self.secret = secretsmanager.Secret.from_secret_name_v2(
                self, "Imported", config.stripe_secret_name
            )
            # Secrets Manager resolves a name; the imported ARN lacks the random suffix.
            self.secret_id = config.stripe_secret_name
            self.imported = True
            return
        created = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=f"callpay/{config.stage}/app",
            description="callpay: Stripe keys, webhook signing secrets, patient token key",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(PLACEHOLDER_JSON),
                generate_string_key=GENERATED_KEY,
                password_length=64,
                exclude_punctuation=True,
            ),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            created,
            "AwsSolutions-SMG4",
            "The secret holds Stripe API keys and webhook signing secrets, which are rotated "
            "in Stripe's dashboard, not by a rotation Lambda; webhook_secrets takes several "
            "values so a rotation needs no downtime (docs/deploy.md).",
        )
        self.secret = created
        self.secret_id = created.secret_arn
        self.imported = False

    def grant_read(self, handler: HandlerFunction) -> None:
        self.secret.grant_read(handler.function)
        if self.imported:
            handler.acknowledge_permission(
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:"
                f"<AWS::Region>:<AWS::AccountId>:secret:{self.secret_id}-??????]",
                "An imported secret is known by name; '-??????' matches only the random "
                "suffix Secrets Manager appends to that one name.",
            )
