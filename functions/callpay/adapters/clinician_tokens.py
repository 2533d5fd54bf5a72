"""Clinician JWTs verified in the Lambda against the identity provider's JWKS.

Used where API Gateway's JWT authorizer cannot be: routes shared with patients, and
(later) the WebSocket `$connect`. Signing keys are fetched once and cached across
invocations; an unknown key id triggers one refetch (key rotation).
"""

from __future__ import annotations

from typing import Any

import jwt

from callpay.domain.errors import Unauthenticated

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384"]
JWKS_CACHE_SECONDS = 3600


class IdentityProviderTokens:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        self._issuer = issuer
        self._audience = audience
        self._jwks = jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if signature, issuer, audience and expiry check out."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("token_expired", "The access token has expired.") from error
        except jwt.PyJWKClientConnectionError as error:
            raise Unauthenticated(
                "identity_provider_unreachable", "Cannot check the token now."
            ) from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid_token", "The access token is not valid.") from error
        return claims
