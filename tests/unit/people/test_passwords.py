"""Argon2id hashes and the password rules."""

from __future__ import annotations

import pytest

from shared.people.passwords import MAX_LENGTH, WeakPassword, check_rules, hash_password, needs_rehash, verify


def test_a_hash_verifies_its_password_only() -> None:
    digest = hash_password("网格巡查-2026")
    assert digest.startswith("$argon2id$")
    assert "网格巡查" not in digest
    assert verify(digest, "网格巡查-2026")
    assert not verify(digest, "网格巡查-2027")
    assert not needs_rehash(digest)


def test_no_hash_never_verifies() -> None:
    assert not verify(None, "anything-at-all-1")
    assert not verify("not a hash", "anything-at-all-1")


def test_an_overlong_password_is_refused_before_hashing() -> None:
    assert not verify(hash_password("a" * 20 + "1"), "a" * (MAX_LENGTH + 1))


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least"),
        ("a" * (MAX_LENGTH + 1), "at most"),
        ("onlyletters", "mixes"),
        ("1234567890", "mixes"),
        ("zhang.wei-2026", "own id"),
        ("x13812345678y", "own id"),
    ],
)
def test_rules(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_rules(password, person_id="zhang.wei", phone="13812345678")


def test_a_good_password_passes() -> None:
    check_rules("巡查网格-2026-春", person_id="zhang.wei", username="zw", phone="138****5678")
