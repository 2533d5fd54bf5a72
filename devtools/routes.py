"""The HTTP API's routes as the local gateway matches them (read by devtools.infra_tables).

A route missing from infra/http_api.py's table goes to the `$default` route, as in AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

DEFAULT = "$default"  # API Gateway's route key for route misses


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST... or ANY
    path: str  # as API Gateway spells it: /calls/{call_id}/payment-requests
    clinician_jwt: bool
    function: str  # the handler module, e.g. request_payment.handler
    # The JWT authorizer's scopes for the route: the token must carry one of them.
    scopes: tuple[str, ...] = ()
    _segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_segments", tuple(self.path.strip("/").split("/")))
        object.__setattr__(self, "scopes", tuple(self.scopes))

    @property
    def key(self) -> str:
        """The routeKey API Gateway puts in the event."""
        return self.path if self.is_default else f"{self.method} {self.path}"

    @property
    def is_default(self) -> bool:
        """`$default`: takes every request no other route takes."""
        return self.path == DEFAULT

    @property
    def specificity(self) -> tuple[int, ...]:
        """API Gateway picks the most specific match: literal over {param} over {proxy+}."""
        return tuple(
            0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in self._segments
        )

    def match(self, method: str, raw_path: str) -> dict[str, str] | None:
        """The path parameters (decoded) if this route takes the request, else None."""
        if self.is_default or self.method not in {"ANY", method}:
            return None
        parts = raw_path.strip("/").split("/")
        parameters: dict[str, str] = {}
        for index, segment in enumerate(self._segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest or rest == [""]:
                    return None
                parameters[segment[1:-2]] = unquote("/".join(rest))
                return parameters
            if index >= len(parts):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                if not parts[index]:
                    return None
                parameters[segment[1:-1]] = unquote(parts[index])
            elif segment != parts[index]:
                return None
        return parameters if len(parts) == len(self._segments) else None


def find_route(
    routes: Iterable[HttpRoute], method: str, raw_path: str
) -> tuple[HttpRoute, dict[str, str]] | None:
    routes = list(routes)
    matches = [
        (route, found) for route in routes if (found := route.match(method, raw_path)) is not None
    ]
    if not matches:
        default = next((route for route in routes if route.is_default), None)
        return None if default is None else (default, {})
    return max(matches, key=lambda pair: pair[0].specificity)


def describe(routes: Iterable[HttpRoute]) -> list[str]:
    """One line per route for the stack's banner: method, path, authorizer."""
    lines = []
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        guard = "JWT authorizer" if route.clinician_jwt else ""
        if route.scopes:
            guard += f", scope {' or '.join(route.scopes)}"
        if route.is_default:
            guard = "every route miss"
        lines.append(f"{route.method:<6} {route.path:<44} {guard}".rstrip())
    return lines
