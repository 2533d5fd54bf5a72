"""Validly signed tokens whose claims or header are not what callpay expects: a 401, never a
crash, whichever way the claims arrive (API Gateway's authorizer renders them as strings;
the Lambda's own JWKS verification reads them as the token has them; `$connect` too).

The identity provider's key is real (RSA, JWKS); its JWKS is handed to the verifier
directly instead of over HTTP (the network is off; tests/integration fetch it for real).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpay import runtime
from callpay.adapters.clinician_tokens import IdentityProviderTokens
from callpay.principals import is_client_credentials
from clinic_admin.handler import lambda_handler as clinic_admin
from devtools.http_events import claims_as_strings
from request_payment.handler import lambda_handler as request_payment
from tests.support.events import LambdaContext, http_event, reply
from tests.support.fakes import tokens
from tests.support.identity_provider import AUDIENCE, ISSUER, SigningKey
from tests.unit.conftest import Sockets, World, ws
from tests.unit.test_request_payment_api import create

KEY = SigningKey()
VALID = {"sub": "clin-1", "org_id": "org-1", "role": "team_member", "clinic_ids": "clinic-1"}


@pytest.fixture
def verifier(world: World, sockets: Sockets, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Lambda's real verifier over KEY's JWKS, for HTTP routes and `$connect`."""
    idp = IdentityProviderTokens(ISSUER, AUDIENCE, "https://idp.example.test/jwks.json")
    monkeypatch.setattr(idp._jwks, "fetch_data", KEY.jwks)
    monkeypatch.setattr(runtime, "clinician_tokens", lambda: idp)
    yield


def http(handler: Any, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    return reply(handler(http_event(method, path, body, **kw), LambdaContext()))


def answers_to(token: str, claims: dict[str, Any], pr_id: str) -> dict[str, tuple[int, Any]]:
    """Every way a clinician's token reaches callpay: bearer token on the routes shared with
    patients and `$connect` (verified in the Lambda), claims from the JWT authorizer."""
    rendered = claims_as_strings(claims)
    return {
        "GET /payment-requests/{id}": http(
            request_payment, "GET", f"/payment-requests/{pr_id}", token=token
        ),
        "GET /calls/{id}/payment-requests": http(
            request_payment, "GET", "/calls/call-1/payment-requests", token=token
        ),
        "$connect": (ws("$connect", "conn-t", {"call_id": "call-1", "token": token}), None),
        "authorizer: POST /calls/{id}/patient-access": http(
            request_payment, "POST", "/calls/call-1/patient-access",
            {"clinic_id": "clinic-1"}, claims=rendered,
        ),
        "authorizer: GET /clinics/{id}/settings": http(
            clinic_admin, "GET", "/clinics/clinic-1/settings", claims=rendered
        ),
    }  # fmt: skip


def stored(world: World) -> Any:
    store = world.store
    return copy.deepcopy((store.calls, store.requests, store.clinics, store.audits, store.claims))


@pytest.mark.parametrize("role", [["team_admin"], {"role": "team_admin"}, ["a", "b"]])
def test_a_signed_token_whose_role_is_a_list_or_an_object_is_401_everywhere(
    world: World,
    sockets: Sockets,
    verifier: None,
    role: Any,
) -> None:
    _, created = create()
    claims = VALID | {"role": role}
    for route, (status, body) in answers_to(KEY.token(claims), claims, created["id"]).items():
        assert status == 401, (route, body)
        if body is not None:
            assert body["error"]["code"] == "invalid_token", route
    assert runtime.connections().get("conn-t") is None


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS384", "HS256", "PS256", "none"])
def test_a_token_whose_alg_is_not_its_keys_is_401(
    world: World,
    sockets: Sockets,
    verifier: None,
    alg: str,
) -> None:
    """Regression: an ES256 header naming an RSA key's kid made PyJWT raise TypeError (500)."""
    _, created = create()
    token = KEY.token(VALID, headers={"alg": alg})
    answers = answers_to(token, VALID, created["id"])
    for route in ("GET /payment-requests/{id}", "GET /calls/{id}/payment-requests", "$connect"):
        status, body = answers[route]
        assert status == 401, (route, body)
        if body is not None:
            assert body["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("missing", ["sub", "org_id", "role"])
def test_a_signed_token_without_a_claim_callpay_reads_is_401(
    world: World,
    sockets: Sockets,
    verifier: None,
    missing: str,
) -> None:
    _, created = create()
    claims = {k: v for k, v in VALID.items() if k != missing}
    for route, (status, body) in answers_to(KEY.token(claims), claims, created["id"]).items():
        assert status == 401, (route, body)
        if body is not None:
            assert body["error"]["code"] == "invalid_token"
        if route.startswith("authorizer"):  # PyJWT's own `require` says less
            assert missing in body["error"]["message"]


def test_an_unknown_role_is_still_403_and_a_valid_token_still_works(
    world: World,
    sockets: Sockets,
    verifier: None,
) -> None:
    _, created = create()
    unknown = VALID | {"role": "receptionist"}
    for route, (status, body) in answers_to(KEY.token(unknown), unknown, created["id"]).items():
        assert status == 403, (route, body)
        if body is not None:
            assert body["error"]["code"] == "unknown_role"
    valid = answers_to(KEY.token(VALID), VALID, created["id"])
    assert {route: status for route, (status, _) in valid.items()} == {
        "GET /payment-requests/{id}": 200,
        "GET /calls/{id}/payment-requests": 200,
        "$connect": 200,
        "authorizer: POST /calls/{id}/patient-access": 201,
        "authorizer: GET /clinics/{id}/settings": 403,  # a team member is no admin
    }


def test_the_array_form_of_clinic_ids_works_on_both_paths(
    world: World,
    sockets: Sockets,
    verifier: None,
) -> None:
    _, created = create()
    claims = VALID | {"clinic_ids": ["clinic-9", "clinic-1"]}
    answers = answers_to(KEY.token(claims), claims, created["id"])
    assert answers["GET /payment-requests/{id}"][0] == 200
    assert answers["authorizer: POST /calls/{id}/patient-access"][0] == 201


@pytest.mark.parametrize(
    "claims",
    [{"call_id": ["call-1"]}, {"call_id": {"id": "call-1"}}, {"clinic_id": 7},
     {"jti": None}, {"call_id": "call 1"}],
)  # fmt: skip
def test_a_patient_token_with_claims_of_the_wrong_type_is_401(
    world: World, claims: dict[str, Any]
) -> None:
    import jwt  # noqa: PLC0415

    from tests.support.fakes import TOKEN_KEY  # noqa: PLC0415

    create()
    good = jwt.decode(
        tokens().mint("call-1", "clinic-1", world.clock.now)[0], TOKEN_KEY,
        algorithms=["HS256"], audience="callpay:patient",
    )  # fmt: skip
    token = jwt.encode(good | claims, TOKEN_KEY, algorithm="HS256")
    status, body = http(request_payment, "GET", "/calls/call-1/payment-requests", token=token)
    assert status == 401 and body["error"]["code"] == "invalid_token"


# -- properties -------------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Mostly plausible values, so the properties also reach the paths past the type checks.
claim_value = st.one_of(
    st.sampled_from(["clin-1", "org-1", "team_member", "team_admin", "org_admin", "clinic-1",
                     "clinic-1 clinic-2", "[clinic-1 clinic-2]", "", " ", "[x]", "{}"]),
    json_value,
)  # fmt: skip
claims_strategy = st.fixed_dictionaries(
    {},
    optional={
        "sub": claim_value, "org_id": claim_value, "role": claim_value,
        "clinic_ids": claim_value | st.lists(claim_value, max_size=4),
        "scope": claim_value, "iat": json_value, "nbf": json_value, "jti": json_value,
    },
)  # fmt: skip
header_strategy = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "RS384", "ES256", "HS256", "none", "", "rs256"]),
        "kid": st.just(KEY.kid) | json_value,
        "typ": json_value,
        "crit": json_value,
    },
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def is_text(value: object) -> bool:
    """A claim callpay reads as text: a string, 1-256 characters, no control characters,
    not an array or object as the authorizer renders them."""
    return (
        isinstance(value, str) and 0 < len(value) <= 256
        and value[:1] + value[-1:] not in {"[]", "{}"}
        and all(ord(c) >= 32 and ord(c) != 127 for c in value)
    )  # fmt: skip


def well_typed(claims: dict[str, Any]) -> bool:
    ids = claims.get("clinic_ids")
    ids_ok = (
        ids is None
        or (isinstance(ids, str) and ids[:1] + ids[-1:] != "{}")
        or (isinstance(ids, list) and all(isinstance(i, str) and len(i) <= 256 for i in ids))
    )
    return ids_ok and all(is_text(claims.get(n)) for n in ("sub", "org_id", "role"))


@PROPERTY_SETTINGS
@given(claims=claims_strategy, header=header_strategy)
def test_any_claims_and_header_in_a_signed_token_get_a_4xx_or_a_success_never_a_5xx(
    world: World, sockets: Sockets, verifier: None,
    claims: dict[str, Any], header: dict[str, Any],
) -> None:  # fmt: skip
    """Over every way a clinician token arrives. A claim of the wrong type or missing is 401
    `invalid_token` in the Lambda's own verification (a client's token, with scopes and no
    role, is 403 `person_only`); nothing is stored by a refusal."""
    pr_id = next(iter(world.store.requests), None) or create()[1]["id"]
    before = stored(world)
    token = KEY.token(claims, headers=header)
    answers = answers_to(token, claims, pr_id)
    for route, (status, body) in answers.items():
        assert status < 500, (route, body)
        if status >= 400 and body is not None:
            assert set(body["error"]) == {"code", "message"}
    connected = runtime.connections().get("conn-t") is not None
    assert connected is (answers["$connect"][0] == 200)
    verified_in_lambda = answers["GET /calls/{id}/payment-requests"]
    honest_header = header.get("alg", "RS256") == "RS256" and header.get("kid", KEY.kid) == KEY.kid
    if honest_header and is_client_credentials(claims):
        # Scopes and no role: the platform backend's token, refused on people's routes
        # (or refused as a token before that, e.g. without `sub` or with a bad `nbf`).
        refusal = (verified_in_lambda[0], verified_in_lambda[1]["error"]["code"])
        assert refusal in {(403, "person_only"), (401, "invalid_token")}
    elif honest_header and not well_typed(claims):
        assert verified_in_lambda[0] == 401
        assert verified_in_lambda[1]["error"]["code"] == "invalid_token"
    # call-1 is bound already: none of these answers may change what is stored
    assert stored(world) == before
    runtime.connections().remove("conn-t")
