"""A URL's path and query as text: a NUL or %-encoded bytes that are not UTF-8 name the parameter (pure)."""

from __future__ import annotations

import pytest

from shared.privacy import mask_phone
from shared.text_checks import url_problem


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (b"/v1/cases/%00", b"", "path"),
        (b"/v1/cases/%E4%B8", b"", "path"),
        (b"/v1/cases/\xff", b"", "path"),
        (b"/v1/cases", b"state=a%00", "state"),
        (b"/v1/cases", b"limit=1&unit=%C3%28", "unit"),
        (b"/v1/cases", b"a%FFb=1", "a\ufffdb"),
    ],
)
def test_unreadable_urls_name_the_parameter(path: bytes, query: bytes, field: str) -> None:
    found = url_problem(path, query)
    assert found is not None and found.field == field


def test_readable_urls_pass() -> None:
    assert url_problem("/v1/units/北院门".encode(), b"q=%E5%8C%97&x=1+2") is None


def test_the_reports_topic_phone_keeps_the_last_four_digits() -> None:
    assert mask_phone("13812345210") == "138****5210"
