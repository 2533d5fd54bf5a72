"""Clinician JWTs verified in the Lambda against the identity provider's JWKS.

Used where API Gateway's JWT authorizer cannot be: routes shared with patients, and the
WebSocket `$connect`. Signing keys are fetched once and cached across invocations; an
unknown key id triggers one refetch (key rotation). A token is verified with its key's own
algorithm only: the header's `alg` must be that one, so a token cannot choose how the key
it names is used. The claims' shape is checked by callpay.principals.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from callpay.domain.errors import Unauthenticated, UpstreamUnavailable

if TYPE_CHECKING:
    import jwt

# Asymmetric only: a key from the JWKS that claims HS256 (a shared secret) is refused.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384"})
JWKS_CACHE_SECONDS = 3600


class IdentityProviderTokens:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient:
        # PyJWT (and cryptography) imported where a clinician's token is checked here, not
        # by every route of a function that has this verifier.
        import jwt  # noqa: PLC0415

        return jwt.PyJWKClient(
            self._jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if signature, issuer, audience and expiry check out."""
        import jwt  # noqa: PLC0415

        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            if key.algorithm_name not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError(f"the key's {key.algorithm_name} is not allowed")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("token_expired", "The access token has expired.") from error
        except jwt.PyJWKClientConnectionError as error:
            # Not the caller's fault: a 503 says retry, a 401 would say sign in again.
            raise UpstreamUnavailable(
                "identity_provider_unreachable", "Cannot check the token now; try again."
            ) from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid_token", "The access token is not valid.") from error
        return claims
