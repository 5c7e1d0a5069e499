"""Passwords: Argon2id hashes (argon2-cffi, its RFC 9106 low-memory profile) and the rules a new password meets.

Only the hash is ever stored; a hash made with older parameters is replaced at the next successful sign-in
(`needs_rehash`). Nothing here logs or raises with a password in it.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from shared.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 128  # Argon2 takes any length; a bound keeps a sign-in request from costing more than it should

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)

# A hash of a password nobody has, to verify against when the login name is unknown: the answer then takes as
# long as for a known person, so timing does not tell which login names exist.
_DUMMY_HASH = _hasher.hash("griddispatch: no such person")


class WeakPassword(InvalidInput):
    code = "weak_password"


def check_rules(password: str, *, person_id: str = "", username: str | None = None, phone: str | None = None) -> None:
    """Refuse a password that is too short or too long, of one kind of character only, or that contains the
    person's own id, login name or phone number."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters", field="password")
    kinds = sum(
        (
            any(c.isdigit() for c in password),
            any(c.isalpha() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 2:
        raise WeakPassword("a password mixes at least two of: letters, digits, other characters", field="password")
    lowered = password.lower()
    for own in (person_id, username or "", (phone or "").replace("*", "")):
        if len(own) >= 4 and own.lower() in lowered:
            raise WeakPassword("a password must not contain the person's own id, login name or phone", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; with no hash (no password set, or no such person) it is checked against a
    dummy so the time taken is the same, and the answer is False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
