"""The video platform's identity provider, played locally: one RSA key, its JWKS, tokens.

The key lives in the stack's state directory (`.callpay/` by default) and is created on
first use, so `callpay token` and the running stack agree on it without talking to each
other. Tokens carry the claims callpay reads: `sub`, `org_id`, `role`, `clinic_ids` for
people; `client_id`, `org_id` and `scope` for the platform's backend (client credentials).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# Fixed, so tokens minted before a restart of the stack (on another port) stay valid.
ISSUER = "https://idp.callpay.localhost/"
AUDIENCE = "callpay"
ROLES = ("team_member", "team_admin", "org_admin")
KEY_FILE = "identity-provider-key.pem"


class LocalIdentityProvider:
    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self.kid = _thumbprint(public)
        self._public_jwk = public | {"kid": self.kid, "use": "sig", "alg": "RS256"}

    @classmethod
    def in_dir(cls, state_dir: Path) -> LocalIdentityProvider:
        """The provider whose key is in `state_dir`, creating the key the first time."""
        path = state_dir / KEY_FILE
        if not path.exists():
            _create_key(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public_jwk]}

    def token(
        self,
        sub: str,
        org_id: str,
        role: str = "team_member",
        clinic_ids: list[str] | tuple[str, ...] = (),
        expires_in: int = 3600,
        **claims: Any,
    ) -> str:
        """A signed clinician JWT; `expires_in` may be negative for an expired one."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "org_id": org_id,
            "role": role,
            "clinic_ids": " ".join(clinic_ids),
            "iat": min(now, now + expires_in),
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
        } | claims
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.kid})

    def client_token(
        self, client_id: str, org_id: str, scopes: list[str] | tuple[str, ...],
        expires_in: int = 3600, **claims: Any,
    ) -> str:  # fmt: skip
        """A client-credentials access token for the platform's backend: no person, no
        role; its organisation and the scopes granted to the client."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": client_id,
            "client_id": client_id,
            "org_id": org_id,
            "scope": " ".join(scopes),
            "token_use": "access",
            "iat": min(now, now + expires_in),
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
        } | claims
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.kid})


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a key id that is the same every time the key is loaded."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _create_key(path: Path) -> None:
    """Write a new key so that two processes creating it at once end up with the same one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    try:
        # link() fails if the key exists: whoever linked first wins, the other reads theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
