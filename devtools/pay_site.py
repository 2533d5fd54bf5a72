"""frontend/ served by the local gateway at /app/, as CloudFront serves it in AWS.

`/app/callpay.js` (the panels), `/app/pay/` (the hosted pay page), `/app/i18n/*.json` and
a generated `/app/config.json` ({apiBase, wsUrl, stripeJsUrl}: this stack's gateway and
Stripe.js, the stand-in on localstripe). Every answer carries the headers of the CloudFront
response headers policy (infra/static_site.py): the same Content-Security-Policy template
with local sources, nosniff, no referrer, and CORS for the module and its catalogs, which
integrators import from their own origin. Only the files a browser needs are served:
the shipped extensions, never the .po sources.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from devtools.paths import REPO_ROOT

PREFIX = "/app"
# The hosted pay page: PATIENT_PAGE_URL is the gateway's address plus this.
PAY_PAGE_PATH = f"{PREFIX}/pay/"
FRONTEND = REPO_ROOT / "frontend"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
# What S3 holds of frontend/ (infra/static_site.py uploads the same folders).
SERVED_DIRS = ("", "pay", "i18n")

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PaySite:
    http_url: Callable[[], str]  # the gateway's, known once it listens
    ws_url: Callable[[], str]
    stripe_js_url: Callable[[], str]
    content_security_policy: str
    root: Path = FRONTEND

    def routes(self) -> list[tuple[str, str, Page]]:
        return [
            ("GET", f"{PREFIX}/config.json", self.config),
            ("GET", PREFIX + "/{path:.*}", self.file),
        ]

    def headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": self.content_security_policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Access-Control-Allow-Origin": "*",
            # Local edits show at once; CloudFront caches.
            "Cache-Control": "no-cache",
        }

    async def config(self, request: web.Request) -> web.Response:
        body = {
            "apiBase": self.http_url(),
            "wsUrl": self.ws_url(),
            "stripeJsUrl": self.stripe_js_url(),
        }
        return web.Response(
            text=json.dumps(body),
            headers=self.headers() | {"Content-Type": CONTENT_TYPES[".json"]},
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        if relative == "pay":
            raise web.HTTPMovedPermanently(f"{PREFIX}/pay/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        path = (self.root / relative).resolve()
        inside = path.is_relative_to(self.root)
        folder = path.parent.relative_to(self.root).as_posix() if inside else None
        if (
            folder is None
            or (folder if folder != "." else "") not in SERVED_DIRS
            or path.suffix not in CONTENT_TYPES
            or not path.is_file()
        ):
            return web.Response(status=404, text="Not found", headers=self.headers())
        return web.Response(
            body=path.read_bytes(),
            headers=self.headers() | {"Content-Type": CONTENT_TYPES[path.suffix]},
        )
