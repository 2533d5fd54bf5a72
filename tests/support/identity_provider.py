"""A stand-in for the video platform's identity provider: an RSA key, tokens signed with it,
and its JWKS, over HTTP (IdentityProvider) or handed over directly (SigningKey, for unit
tests with the network off)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://idp.example.test/"
AUDIENCE = "callpay"


class SigningKey:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [public | {"kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(
        self,
        claims: dict[str, Any],
        expires_in: int = 600,
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token signed with RS256 whatever its header says: `headers` may claim anything,
        `alg` included (a token that lies about how it is signed)."""
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + expires_in} | claims
        payload |= overrides
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid} | (headers or {})
        signing_input = f"{_segment(header)}.{_segment(payload)}".encode()
        signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, self.key)
        return f"{signing_input.decode()}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class IdentityProvider(SigningKey):
    """The key's JWKS served over HTTP at `jwks_url`."""

    def __init__(self) -> None:
        super().__init__()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(provider.jwks()).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
