"""cdk-nag: the AwsSolutions rules run in every synth; acknowledgements carry their reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check(stage: Stage) -> None:
    """Run the AwsSolutions pack on everything in the app or stage during synthesis.

    Any finding not acknowledged fails the synth. Acknowledgements are also written to
    each resource's Metadata (cdk_nag.rules_to_suppress), so the deployed template
    carries its own audit trail of what was accepted and why.
    """
    Validations.of(stage).add_plugins(
        AwsSolutionsChecks(stage, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept one finding on scope (and what it contains), saying why in the code."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
