"""The CDK app's entry point: `python -m infra.app` (what cdk.json runs and `make synth` uses).

Without the CDK CLI (plain `make synth`) the context defaults are read from cdk.json
here, so both ways synthesize the same stack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App

from infra import nag
from infra.config import CallpayConfig
from infra.paths import CDK_JSON
from infra.stack import CallpayStack


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(
    outdir: str | None = None, context: Mapping[str, Any] | None = None
) -> tuple[App, CallpayStack]:
    """The app with its one stack and the cdk-nag checks; context overrides cdk.json."""
    # Under the CLI, CDK_CONTEXT_JSON already holds cdk.json's context and every -c.
    defaults = {} if "CDK_CONTEXT_JSON" in os.environ else cdk_json_context()
    app = App(outdir=outdir, context={**defaults, **(context or {})})
    config = CallpayConfig.from_context(app.node)
    # Environment-agnostic: synthesizes offline with no credentials; the CLI's profile
    # picks the account and region at deploy time.
    stack = CallpayStack(
        app,
        f"callpay-{config.stage}",
        config=config,
        description=f"callpay ({config.stage}): in-call payments with Stripe",
    )
    nag.check(app)
    return app, stack


def main() -> None:
    # The CLI says where to write; plain `python -m infra.app` writes to ./cdk.out too.
    app, _ = build_app(outdir=None if "CDK_OUTDIR" in os.environ else "cdk.out")
    app.synth()


if __name__ == "__main__":
    main()
