"""Single sign-on's claim mapping and ID token claim checks, as pure functions."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.errors import InvalidInput
from shared.people.model import RoleGrant, RoleName
from shared.people.oidc_claims import identity_of, role_change, roles_of, subject_key
from shared.people.oidc_client import OidcRefused, check_claims, code_challenge
from shared.settings import OidcSettings

ISSUER = "http://127.0.0.1:29180"
TRUSTED = OidcSettings().trusted_role_list


def _roles(value: object) -> set[str]:
    return {
        str(g)
        for g in roles_of({"griddispatch_roles": value}, roles_claim="griddispatch_roles", trusted=TRUSTED).granted
    }


def test_roles_are_role_at_unit_entries() -> None:
    assert _roles(
        ["grid_worker@unit:610199001001001", "department_handler@department:housing", "district_supervisor@*"]
    ) == {
        "grid_worker@unit:610199001001001",
        "department_handler@department:housing",
        "district_supervisor@*",
    }


def test_unknown_roles_malformed_units_and_untrusted_roles_are_ignored_and_said_so() -> None:
    found = roles_of(
        {"r": ["wizard@unit:1", "grid_worker@grid:1", "grid_worker", 7, "administrator@*", "grid_head@unit:2"]},
        roles_claim="r",
        trusted=TRUSTED,
    )
    assert {str(g) for g in found.granted} == {"grid_head@unit:2"}
    reasons = dict(found.ignored)
    assert set(reasons) == {"wizard@unit:1", "grid_worker@grid:1", "grid_worker", "7", "administrator@*"}
    assert reasons["administrator@*"] == "role not trusted from tokens"


def test_administrator_can_be_trusted_from_tokens_when_the_settings_say_so() -> None:
    found = roles_of({"r": ["administrator@*"]}, roles_claim="r", trusted={"administrator"})
    assert found.granted == {RoleGrant(RoleName.ADMINISTRATOR, "*")}


@pytest.mark.parametrize("value", [None, {"grid_worker": "unit:1"}, 42, ["x@unit:1"] * 201])
def test_a_missing_or_strange_roles_claim_grants_nothing(value: object) -> None:
    assert _roles(value) == set()


def test_a_space_separated_roles_string_is_read_as_a_list() -> None:
    assert _roles("grid_worker@unit:1 grid_head@unit:1") == {"grid_worker@unit:1", "grid_head@unit:1"}


def test_identity_links_issuer_and_sub_and_lowers_the_username() -> None:
    identity = identity_of(
        {"sub": "abc", "preferred_username": " Li.Wei ", "name": "李伟", "phone_number": "13800138000"},
        issuer=ISSUER,
        username_claim="preferred_username",
        name_claim="name",
        phone_claim="phone_number",
    )
    assert identity.subject == subject_key(ISSUER, "abc") == f"{ISSUER}|abc"
    assert (identity.username, identity.name, identity.phone) == ("li.wei", "李伟", "13800138000")


def test_identity_without_sub_is_refused() -> None:
    with pytest.raises(InvalidInput):
        identity_of({"name": "x"}, issuer=ISSUER, username_claim="u", name_claim="name", phone_claim="p")


grants = st.frozensets(
    st.builds(RoleGrant, st.sampled_from(list(RoleName)), st.sampled_from(["*", "unit:1", "unit:2", "department:d"]))
)


@given(grants, grants)
def test_the_token_roles_replace_those_earlier_sign_ins_brought(
    held: frozenset[RoleGrant], wanted: frozenset[RoleGrant]
) -> None:
    change = role_change(held, wanted)
    assert (held - change.revoke) | change.grant == wanted
    assert not change.grant & held and change.revoke <= held


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": "gd", "sub": "s", "nonce": "n1", "iat": now, "exp": now + 300} | over


def _refusal(claims: dict[str, object]) -> str:
    with pytest.raises(OidcRefused) as refused:
        check_claims(claims, issuer=ISSUER, client_id="gd", nonce="n1", leeway=0)
    return refused.value.code


def test_good_claims_pass() -> None:
    check_claims(_claims(), issuer=ISSUER, client_id="gd", nonce="n1", leeway=0)
    check_claims(_claims(aud=["gd", "other"], azp="gd"), issuer=ISSUER, client_id="gd", nonce="n1", leeway=0)


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"iss": "http://evil.example"}, "oidc_issuer_mismatch"),
        ({"aud": "someone-else"}, "oidc_audience_mismatch"),
        ({"aud": ["gd", "other"]}, "oidc_audience_mismatch"),  # several audiences and no azp
        ({"nonce": "n2"}, "oidc_nonce_mismatch"),
        ({"nonce": None}, "oidc_nonce_mismatch"),
        ({"exp": int(time.time()) - 10}, "oidc_id_token_expired"),
        ({"exp": None}, "oidc_id_token_invalid"),
    ],
)
def test_each_bad_claim_has_its_own_refusal(over: dict[str, object], code: str) -> None:
    claims = {k: v for k, v in _claims(**over).items() if v is not None}
    assert _refusal(claims) == code


def test_pkce_challenge_is_rfc7636_s256() -> None:
    # RFC 7636, appendix B
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_an_issuer_without_a_client_secret_is_a_configuration_error_naming_both() -> None:
    with pytest.raises(ValidationError, match="GRIDDISPATCH_OIDC_CLIENT_SECRET"):
        OidcSettings(issuer=ISSUER)
    assert not OidcSettings().enabled  # off by default: the endpoints are not routed
