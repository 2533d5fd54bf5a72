"""Where a running local stack answers: the contents of `.callpay/local.json`.

`make dev` writes the file once everything is up and removes it when it stops; the demo,
the end-to-end tests and `callpay token` read it. DESIGN.md ("Local stack") names the
fields other tools rely on; the rest are for tools that sign webhooks or read AWS state.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

FILE_NAME = "local.json"


@dataclass(frozen=True)
class Endpoints:
    http_url: str  # the HTTP API, no trailing slash: f"{http_url}/webhooks/stripe"
    ws_url: str  # the WebSocket API: f"{ws_url}?call_id=...&token=..."
    stripe_api_base: str  # localstripe (or Stripe itself in real test mode)
    aws_endpoint_url: str  # moto's server
    publishable_key: str
    demo_org_id: str
    demo_clinic_id: str
    jwks_url: str
    issuer: str
    audience: str
    webhook_secret: str  # signs deliveries to /webhooks/stripe (the account endpoint's)
    region: str
    pid: int  # the stack's process
    # The environment the stack gives its handlers (no secrets: AWS keys are "local"), for
    # running one by hand against it: `devtools/invoke.py --local`.
    environment: dict[str, str] = field(default_factory=dict)
    # The Stripe.js pages load: the local stand-in on localstripe, Stripe's own otherwise.
    stripe_js_url: str = "https://js.stripe.com/v3/"

    @classmethod
    def load(cls, state_dir: Path) -> Endpoints:
        data = json.loads((state_dir / FILE_NAME).read_text())
        return cls(
            **{
                f.name: data[f.name]
                for f in fields(cls)
                if f.name in data or (f.default is MISSING and f.default_factory is MISSING)
            }
        )

    def write(self, state_dir: Path) -> Path:
        """Atomically, so a reader never sees half a file."""
        path = state_dir / FILE_NAME
        temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)
        return path


def remove(state_dir: Path, pid: int) -> None:
    """Forget the endpoints of the stack `pid`, leaving another stack's file alone."""
    path = state_dir / FILE_NAME
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (FileNotFoundError, json.JSONDecodeError):
        return
