"""Masking of reporters' personal data for every reader without the personal-data scope."""

from __future__ import annotations

from typing import Any


def mask_phone(phone: str | None) -> str | None:
    """13812345678 -> 138****5678; short numbers keep only their last two digits."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) >= 7:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 欧阳娜娜 -> 欧***, Alice -> A****."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_reporter(reporter: dict[str, Any] | None) -> dict[str, Any] | None:
    if reporter is None:
        return None
    return {**reporter, "name": mask_name(reporter.get("name")), "phone": mask_phone(reporter.get("phone"))}
