"""A location is somewhere: a point (finite lon and lat), a grid code or an address; never empty, never NaN."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.intake.schemas import LocationIn
from shared.errors import InvalidInput
from shared.events import decode, encode, new_event
from shared.events.types import Location, ReportSubmitted

NOWHERE = [
    "{}",
    '{"lon": null, "lat": null}',
    '{"grid_code": null, "address": null}',
]
NOT_FINITE = [
    '{"lon": NaN, "lat": 34.27}',
    '{"lon": Infinity, "lat": 34.27}',
    '{"lon": 108.93, "lat": -Infinity}',
    '{"lon": 1e999, "lat": 34.27}',  # JSON parsers read it as infinity
    '{"lon": "NaN", "lat": 34.27}',  # pydantic reads numbers from strings too
    '{"lon": "inf", "lat": 34.27}',
    '{"lon": 108.93, "lat": "-infinity"}',
]


def _errors(model: type[Location] | type[LocationIn], raw: str) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(json.loads(raw))
    return [(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in caught.value.errors()]


@pytest.mark.parametrize("model", [Location, LocationIn])
@pytest.mark.parametrize("raw", NOWHERE)
def test_an_empty_location_is_refused_saying_what_it_needs(model: type[Location], raw: str) -> None:
    [(field, message)] = _errors(model, raw)
    assert field == ""  # the location itself: an API answer names it `location`
    assert "give coordinates (lon and lat), a grid code or an address" in message


@pytest.mark.parametrize("model", [Location, LocationIn])
@pytest.mark.parametrize("raw", NOT_FINITE)
def test_a_coordinate_that_is_not_a_finite_number_says_so(model: type[Location], raw: str) -> None:
    [(field, message)] = _errors(model, raw)
    assert field in ("lon", "lat")
    assert message == "Input should be a finite number"  # not "less than or equal to 180"


@pytest.mark.parametrize("model", [Location, LocationIn])
def test_half_a_point_is_refused(model: type[Location]) -> None:
    [(_, message)] = _errors(model, '{"lon": 108.93}')
    assert "lon and lat come together" in message


def test_a_blank_address_is_no_location_in_an_event() -> None:
    [(_, message)] = _errors(Location, '{"address": "   ", "grid_code": ""}')
    assert "give coordinates" in message


@pytest.mark.parametrize(
    "fields",
    [{"lon": 108.93, "lat": 34.27}, {"lon": 0, "lat": 0}, {"grid_code": "610199004001"}, {"address": "西大街1号"}],
)
def test_any_one_of_point_grid_code_or_address_is_enough(fields: dict[str, object]) -> None:
    assert Location.model_validate(fields) == Location(**fields)  # type: ignore[arg-type]
    assert LocationIn.model_validate(fields).model_dump(exclude_none=True) == fields


def test_an_event_without_a_location_is_a_dead_letter_naming_it() -> None:
    """A bulk-sync app's report with an empty location is refused by dispatch, not triaged."""
    report = ReportSubmitted(
        case_id="c-1",
        case_number="GD-261122-000001",
        source="grid_app",
        title="井盖缺失",
        location=Location(address="西大街1号"),
        received_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    )
    body = json.loads(encode(new_event(report, source="/tests", subject="c-1")).value)
    body["data"]["location"] = {}
    with pytest.raises(InvalidInput) as caught:
        decode(json.dumps(body).encode())
    assert caught.value.detail["reason"] == "invalid_event"
    assert caught.value.detail["fields"] == ["data.location"]
