"""`callpay`: the local stack's command line (installed by `make install`).

callpay dev     run the whole stack in the foreground (what `make dev` runs)
callpay token   print a clinician JWT (or a platform backend's token) the local stack accepts
callpay pay     pay a checkout on localstripe with a test card (the patient's card step)
callpay demo    start the stack, play a consultation end to end, stop it
callpay stripe-endpoints   create the two webhook endpoints on Stripe (docs/deploy.md)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devtools.identity import ROLES
from devtools.stack import DEFAULT_PORTS, DEFAULT_STATE_DIR


def _state_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("CALLPAY_STATE_DIR") or DEFAULT_STATE_DIR)


def dev(args: argparse.Namespace) -> int:
    from devtools.stack import StackFailed, StackOptions, run  # noqa: PLC0415

    try:
        options = StackOptions.from_env(
            state_dir=args.state_dir and Path(args.state_dir),
            host=args.host,
            gateway_port=args.gateway_port,
            stripe_port=args.stripe_port,
            aws_port=args.aws_port,
            concurrency=args.concurrency,
            exit_with_parent=args.exit_with_parent or None,
        )
    except StackFailed as failure:
        print(f"callpay dev: {failure}", file=sys.stderr)
        return 2
    return run(options)


def token(args: argparse.Namespace) -> int:
    from callpay.domain.access import SCOPES  # noqa: PLC0415
    from devtools.identity import LocalIdentityProvider  # noqa: PLC0415

    provider = LocalIdentityProvider.in_dir(_state_dir(args.state_dir))
    if args.client:
        scopes = args.scope or sorted(SCOPES)
        print(provider.client_token(args.client, args.org, scopes, args.expires_in))
        return 0
    if not args.sub:
        print("callpay token: --sub is required (or --client for a backend)", file=sys.stderr)
        return 2
    print(
        provider.token(
            sub=args.sub,
            org_id=args.org,
            role=args.role,
            clinic_ids=args.clinic,
            expires_in=args.expires_in,
        )
    )
    return 0


def pay(args: argparse.Namespace) -> int:
    import stripe  # noqa: PLC0415

    from devtools.endpoints import Endpoints  # noqa: PLC0415
    from devtools.local_client import PatientBrowser  # noqa: PLC0415

    try:
        endpoints = Endpoints.load(_state_dir(args.state_dir))
    except FileNotFoundError:
        print("callpay pay: no local stack is running (start it with `make dev`)", file=sys.stderr)
        return 2
    try:
        intent = PatientBrowser(endpoints.stripe_api_base).pay(
            args.client_secret, args.card.replace(" ", "")
        )
    except stripe.CardError as error:
        print(f"declined: {error.user_message} ({error.code})")
        return 1
    print(f"{intent.id}: {intent.status}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from devtools.demo import main as play  # noqa: PLC0415

    return play(Path(args.state_dir))


def stripe_endpoints(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    import stripe  # noqa: PLC0415

    from devtools.stripe_endpoints import create_endpoints  # noqa: PLC0415

    key = os.environ.get("STRIPE_API_KEY")
    if not key:
        print("callpay stripe-endpoints: set STRIPE_API_KEY (sk_...)", file=sys.stderr)
        return 2
    client = stripe.StripeClient(
        key, base_addresses={"api": args.api_base} if args.api_base else None
    )
    # Only the secrets' JSON goes to stdout: pipe it into the webhook secret, never a file.
    print(json.dumps(create_endpoints(client, args.url)))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="callpay", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    run_dev = commands.add_parser(
        "dev", help="run the local stack in the foreground",
        description="Run moto, localstripe, the local API gateway with the real handlers and "
        "the receipt worker until Ctrl-C. Ports default to the CALLPAY_*_PORT variables, "
        f"else {DEFAULT_PORTS}; 0 picks a free port.",
    )  # fmt: skip
    run_dev.add_argument("--state-dir", help="where local.json, the IdP key and logs go")
    run_dev.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    for name in DEFAULT_PORTS:
        run_dev.add_argument(f"--{name}-port", type=int, dest=f"{name}_port")
    run_dev.add_argument(
        "--concurrency", type=int,
        help="execution environments per function at most (default $CALLPAY_LOCAL_CONCURRENCY "
        "or 4)",
    )  # fmt: skip
    run_dev.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    run_dev.set_defaults(run=dev)

    mint = commands.add_parser(
        "token", help="print a clinician JWT for the local stack",
        description="Print a JWT signed by the local identity provider's key (created in the "
        "state directory on first use), as the video platform's IdP would issue it.",
    )  # fmt: skip
    mint.add_argument("--sub", help="the user's id")
    mint.add_argument(
        "--client", help="a platform backend's client id: a client-credentials token instead"
    )
    mint.add_argument(
        "--scope", action="append", help="a scope of the client's token (repeat; default all)"
    )
    mint.add_argument("--org", required=True, help="the organisation id (org_id claim)")
    mint.add_argument("--role", choices=ROLES, default="team_member")
    mint.add_argument("--clinic", action="append", default=[], help="a clinic id (repeat for more)")
    mint.add_argument("--expires-in", type=int, default=3600, help="seconds (default 3600)")
    mint.add_argument("--state-dir", help=f"default $CALLPAY_STATE_DIR or {DEFAULT_STATE_DIR}")
    mint.set_defaults(run=token)

    card = commands.add_parser(
        "pay", help="pay a checkout with a test card on localstripe, as Stripe.js would",
        description="Attach a test card to the PaymentIntent of a checkout's client_secret "
        "and confirm it on the running stack's localstripe (whose fake Stripe.js cannot "
        "collect a card for an existing PaymentIntent). 4000 0000 0000 0341 is declined.",
    )  # fmt: skip
    card.add_argument("client_secret", help="from POST /payment-requests/{id}/checkout")
    card.add_argument("--card", default="4242 4242 4242 4242")
    card.add_argument("--state-dir", help=f"default $CALLPAY_STATE_DIR or {DEFAULT_STATE_DIR}")
    card.set_defaults(run=pay)

    play = commands.add_parser(
        "demo", help="play a consultation end to end on a fresh local stack",
        description="Start a local stack of its own (free ports), play a narrated "
        "consultation over HTTP and WebSocket, and stop the stack. Exit 0 only if every "
        "step was observed.",
    )  # fmt: skip
    play.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR / "demo"))
    play.set_defaults(run=demo)

    endpoints = commands.add_parser(
        "stripe-endpoints", help="create the two webhook endpoints on Stripe",
        description="Create the platform and the Connect webhook endpoint at URL on the "
        "Stripe account of $STRIPE_API_KEY, pinned to callpay's API version and subscribed "
        'to the events it handles. Prints {"webhook_secrets": [...]} for the webhook secret.',
    )  # fmt: skip
    endpoints.add_argument("--url", required=True, help="the stack's StripeWebhookUrl")
    endpoints.add_argument("--api-base", help=argparse.SUPPRESS)  # tests: a stand-in Stripe
    endpoints.set_defaults(run=stripe_endpoints)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
