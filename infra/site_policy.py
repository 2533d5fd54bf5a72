"""The pay page's Content-Security-Policy: one template for CloudFront and the local stack.

The template names its sources by role; each deployment fills them in. In AWS Stripe's
own origins (as Stripe's integration security guide lists them for Stripe.js and
Elements) and the WebSocket API; locally the gateway serves the page, the API, the
feed and the Stripe.js stand-in from one origin, so the same directives say 'self'.
Imports no CDK, so the local stack reads it cheaply (devtools.infra_tables).
"""

from __future__ import annotations

from collections.abc import Mapping

# Directive -> sources; {name} is filled in per deployment.
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    # The page's own scripts and Stripe.js; no inline script, no eval.
    "script-src": ("'self'", "{stripe_js}"),
    # Stripe's card fields and 3-D Secure challenge run in Stripe's frames.
    "frame-src": ("{stripe_js}", "{stripe_frames}"),
    # config.json and the catalogs, the API (same origin), the call's feed, Stripe's API.
    "connect-src": ("'self'", "{api}", "{websocket}", "{stripe_api}"),
    "img-src": ("'self'", "{stripe_images}"),
    # Stylesheets from files or constructed by script; no inline styles.
    "style-src": ("'self'",),
    "font-src": ("'self'",),
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
    # The hosted page is never framed (integrators embed the panels instead).
    "frame-ancestors": ("'none'",),
}

# Stripe.js's origins (docs.stripe.com/security/guide, "Content Security Policy").
STRIPE_SOURCES = {
    "stripe_js": "https://js.stripe.com https://*.js.stripe.com",
    "stripe_frames": "https://hooks.stripe.com",
    "stripe_api": "https://api.stripe.com",
    "stripe_images": "https://*.stripe.com",
}

ROLES = frozenset({"api", "websocket", *STRIPE_SOURCES})


def content_security_policy(
    sources: Mapping[str, str], policy: Mapping[str, tuple[str, ...]] = POLICY
) -> str:
    """The header value with every role filled in (each source once, in order)."""
    missing = ROLES - set(sources)
    if missing:
        raise ValueError(f"sources missing for {sorted(missing)}")
    directives = []
    for directive, templates in policy.items():
        values: list[str] = []
        for template in templates:
            for value in template.format(**sources).split():
                if value not in values:
                    values.append(value)
        directives.append(f"{directive} {' '.join(values)}")
    return "; ".join(directives)
