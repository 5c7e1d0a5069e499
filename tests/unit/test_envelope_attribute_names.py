"""decode() refuses attribute names CloudEvents 1.0 forbids (lowercase a-z0-9 only, at most 20 characters)."""

from __future__ import annotations

import json

import pytest

from shared.errors import InvalidInput
from shared.events.envelope import decode


def _raw(**extra: object) -> bytes:
    return json.dumps({"specversion": "1.0", "id": "e1", "source": "/t", "type": "nope", **extra}).encode()


@pytest.mark.parametrize("name", ["trace_id", "traceId", "Trace", "x-y", "a" * 21, "é"])
def test_forbidden_extension_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode(_raw(**{name: "v"}))
    assert caught.value.detail["reason"] == "invalid_attribute_name"


def test_valid_names_pass_the_name_check() -> None:
    with pytest.raises(InvalidInput) as caught:  # refused later, for its unknown type, not for the name
        decode(_raw(traceparent="00-x", partitionkey="k", data={"a": 1}))
    assert caught.value.detail["reason"] == "unknown_type"
