"""What an ID token's claims say about a person, as plain values: who they are and which roles they hold.

Pure: no I/O. The roles claim is a list of `<role>@<unit>` strings (`grid_worker@unit:110105001001`); an entry
naming a role griddispatch does not know, a role the settings do not trust from tokens, or a malformed unit is
left out (and reported, so the caller can log it), never granted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInput
from shared.people.model import RoleGrant

MAX_ROLE_ENTRIES = 200  # a token listing more is refused whole: nobody holds that many roles


@dataclass(frozen=True, slots=True)
class Identity:
    """The person a token names: `subject` (issuer|sub) is the stable link; the rest are hints."""

    subject: str
    username: str | None
    name: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class RolesFromClaims:
    granted: frozenset[RoleGrant]
    ignored: tuple[tuple[str, str], ...]  # (the entry, why it was left out)


@dataclass(frozen=True, slots=True)
class RoleChange:
    grant: frozenset[RoleGrant]
    revoke: frozenset[RoleGrant]


def subject_key(issuer: str, sub: str) -> str:
    """What persons.oidc_subject holds: the issuer and its `sub`, so two providers' subs never collide."""
    return f"{issuer}|{sub}"


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def identity_of(
    claims: Mapping[str, Any], *, issuer: str, username_claim: str, name_claim: str, phone_claim: str
) -> Identity:
    sub = _text(claims, "sub")
    if sub is None:
        raise InvalidInput("the ID token has no sub", field="sub")
    username = _text(claims, username_claim)
    return Identity(
        subject=subject_key(issuer, sub),
        username=username.lower() if username else None,
        name=_text(claims, name_claim),
        phone=_text(claims, phone_claim),
    )


def roles_of(claims: Mapping[str, Any], *, roles_claim: str, trusted: Iterable[str]) -> RolesFromClaims:
    """The roles the token grants. A missing claim grants none; a claim that is not a list of strings grants none
    (and says so) rather than guessing."""
    raw = claims.get(roles_claim)
    if raw is None:
        return RolesFromClaims(frozenset(), ())
    if isinstance(raw, str):
        raw = raw.split()  # a space-separated string, as some providers send multi-valued attributes
    if not isinstance(raw, list) or len(raw) > MAX_ROLE_ENTRIES:
        return RolesFromClaims(frozenset(), ((repr(raw)[:80], "not a list of role@unit strings"),))
    trusted_roles = frozenset(trusted)
    granted: set[RoleGrant] = set()
    ignored: list[tuple[str, str]] = []
    for entry in raw:
        if not isinstance(entry, str):
            ignored.append((repr(entry)[:80], "not a string"))
            continue
        role, sep, unit = entry.strip().partition("@")
        if not sep:
            ignored.append((entry[:80], "not role@unit"))
            continue
        try:
            grant = RoleGrant.of(role, unit)
        except InvalidInput as exc:
            ignored.append((entry[:80], exc.message))
            continue
        if grant.role.value not in trusted_roles:
            ignored.append((entry[:80], "role not trusted from tokens"))
            continue
        granted.add(grant)
    return RolesFromClaims(frozenset(granted), tuple(ignored))


def role_change(held_from_oidc: Iterable[RoleGrant], from_token: Iterable[RoleGrant]) -> RoleChange:
    """The token's roles replace those an earlier sign-in brought; roles given otherwise are not touched."""
    held, wanted = frozenset(held_from_oidc), frozenset(from_token)
    return RoleChange(grant=wanted - held, revoke=held - wanted)
