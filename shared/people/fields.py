"""The checks of what identifies a person: login names, phone numbers, and who is recorded as having acted.

A login is a username (it starts with a letter) or a full phone number (digits, perhaps a leading +), so one
string never means both.
"""

from __future__ import annotations

import getpass
import re

from shared.api_clients import ApiClient
from shared.errors import InvalidInput

USERNAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]{2,31}$"
PHONE_PATTERN = r"^\+?[0-9][0-9\- ]{4,19}$"
_USERNAME = re.compile(USERNAME_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_ACTOR = re.compile(r"^(registry|system|(person|client|cli):\S{1,128})$")
REGISTRY_ACTOR = "registry"


def check_username(value: str) -> str:
    """A username, stored in lower case: 3-32 letters, digits, '.', '_' or '-', starting with a letter."""
    if not _USERNAME.match(value):
        raise InvalidInput(
            "a username is 3-32 letters, digits, '.', '_' or '-', starting with a letter", field="username"
        )
    return value.lower()


def check_phone(value: str) -> str:
    """A phone number as dialled, without its spaces and dashes (so sign-in by phone matches it exactly)."""
    if not _PHONE.match(value.strip()):
        raise InvalidInput(
            "a phone number is 5-20 digits, perhaps with a leading + and spaces or dashes", field="phone"
        )
    return normal_phone(value)


def normal_phone(value: str) -> str:
    return re.sub(r"[\s\-]", "", value.strip())


def is_username(login: str) -> bool:
    return bool(_USERNAME.match(login))


def check_actor(actor: str) -> str:
    """person:<id>, client:<uuid>, cli:<os user>, registry or system: who is recorded in the audit."""
    if not _ACTOR.match(actor):
        raise InvalidInput(f"{actor!r} is not person:<id>, client:<uuid>, cli:<user>, registry or system")
    return actor


def actor_of(client: ApiClient) -> str:
    """The audit's actor for an API caller: the signed-in person, else the API client."""
    return f"person:{client.person.id}" if client.person is not None else f"client:{client.id}"


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "unknown"
    return f"cli:{user or 'unknown'}"
