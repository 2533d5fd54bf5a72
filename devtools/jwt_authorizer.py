"""What API Gateway's HTTP API JWT authorizer checks, against the local identity provider.

The token comes from the Authorization header, with or without "Bearer "; its `kid` must
name a key of the JWKS, its signature must verify (RSA algorithms), `iss` must be the
issuer, `aud` (or `client_id` when there is no `aud`) one of the audiences, and `exp`,
`nbf` and `iat` must fit the clock. Anything else is refused the way API Gateway refuses
it: 401 `{"message":"Unauthorized"}` with a `www-authenticate` header saying why. A route
that names scopes also needs one of them in the token's `scope` (space-separated) or `scp`
claim: a valid token without is a 403 `{"message":"Forbidden"}` (`insufficient_scope`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import jwt

from devtools.http_events import claims_as_strings

ALGORITHMS = ["RS256", "RS384", "RS512"]


class Unauthorized(Exception):
    """Refused; `description` is None when no token was sent at all."""

    def __init__(self, description: str | None) -> None:
        super().__init__(description or "no token")
        self.description = description

    @property
    def www_authenticate(self) -> str | None:
        if self.description is None:
            return None
        return f'Bearer scope="" error="invalid_token" error_description="{self.description}"'


class InsufficientScope(Exception):
    """A valid token without any of the route's scopes."""

    def __init__(self, scopes: Collection[str]) -> None:
        super().__init__(" ".join(scopes))
        self.scopes = tuple(scopes)

    @property
    def www_authenticate(self) -> str:
        listed = " ".join(self.scopes)
        return (
            f'Bearer scope="{listed}" error="insufficient_scope" '
            f'error_description="expected scopes: [{listed}]"'
        )


def token_scopes(claims: Mapping[str, Any]) -> set[str]:
    claim = claims.get("scope", claims.get("scp"))
    if isinstance(claim, list):
        return {str(s) for s in claim}
    return set(str(claim or "").split())


class JwtAuthorizer:
    def __init__(self, issuer: str, audiences: Collection[str], jwks: Mapping[str, Any]) -> None:
        self._issuer = issuer
        self._audiences = set(audiences)
        self._keys = {key["kid"]: jwt.PyJWK(key) for key in jwks["keys"]}

    def authorize(self, authorization: str | None, scopes: Collection[str] = ()) -> dict[str, str]:
        """The token's claims as API Gateway passes them to the Lambda; Unauthorized, or
        InsufficientScope when the route names scopes and the token carries none of them."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise Unauthorized(None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the token is not a well-formed JWT") from None
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise Unauthorized("the token's kid matches no key of the issuer")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token does not have a valid issuer") from None
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            raise Unauthorized("the token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"the token is not valid: {error}") from None
        if not self._audience_matches(claims):
            raise Unauthorized("the token does not have a valid audience")
        if scopes and not token_scopes(claims) & set(scopes):
            raise InsufficientScope(scopes)
        return claims_as_strings(claims)

    def _audience_matches(self, claims: Mapping[str, Any]) -> bool:
        # API Gateway reads client_id only when the token has no aud at all.
        audience = claims.get("aud", claims.get("client_id"))
        values = audience if isinstance(audience, list) else [audience]
        return any(str(v) in self._audiences for v in values if v is not None)
