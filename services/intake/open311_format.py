"""The Open311 GeoReport v2 face's mapping: fields in to a ReportIn, cases out as service requests.

Nothing here touches the database, the broker or HTTP; routers/open311.py feeds it rows and sends what it returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from services.intake.open311_schemas import Building, Open311RequestIn, ReadContext, Service, storable_text
from services.intake.schemas import ReportIn
from shared.domain.lifecycle import ENDED, NOT_ENDED, TERMINAL, State
from shared.errors import InvalidInput
from shared.queries.states import values

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
PENDING_NOTES = "received, being dispatched"
MAX_SPAN = timedelta(days=90)  # GeoReport v2: a search may not span more than 90 days
TITLE_SNIPPET = 30  # characters of the description that follow the service name in a case title

_NOTES: dict[State, str] = {  # what each state means to a resident; follows "<state>: "
    State.REPORTED: "being routed to the responsible unit",
    State.ASSIGNED: "waiting to be accepted by the responsible unit",
    State.ACCEPTED: "taken on by the responsible unit",
    State.IN_PROGRESS: "being handled",
    State.RESOLVED: "handled, waiting to be checked",
    State.VERIFIED: "checked, waiting for the resident's rating",
    State.RATED: "the resident is satisfied, being closed",
    State.RETURNED: "sent back by the unit it was assigned to, being routed again",
    State.ESCALATED: "moved one level up",
    State.MERGED: "a duplicate of another case",
    State.REOPENED: "back to handling after a failed check or an unsatisfied rating",
}

# Where a ReportIn validation error points, in the Open311 field names the client sent.
_FIELD_OF = {
    "location.lat": "lat",
    "location.lon": "long",
    "location.address": "address_string",
    "location.grid_code": "address_id",
    "location": "lat",
    "reporter.name": "first_name",
    "reporter.phone": "phone",
    "attachments": "media_url",
    "title": "description",
    "description": "description",
    "matter_code": "service_code",
}
_CJK = re.compile(r"[\u3400-\u9fff]")


# -- requests in ------------------------------------------------------------------------------------------


def parse_request(fields: Mapping[str, Any]) -> Open311RequestIn:
    try:
        return Open311RequestIn.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc, {}) from exc


def check_location(body: Open311RequestIn) -> None:
    if (body.lat is None) != (body.long is None):
        raise InvalidInput("lat and long come together", field="lat" if body.lat is None else "long")
    if body.lat is None and not body.address_string and not body.address_id:
        raise InvalidInput("lat/long, address_string or address_id: a location is required", field="lat")


def to_report(body: Open311RequestIn, service: Service, building: Building | None) -> ReportIn:
    """The ReportIn an Open311 request stands for; its errors name the Open311 field."""
    lon, lat = body.long, body.lat
    if lat is None and building is not None:
        lon, lat = building.lon, building.lat
    location = {
        "lon": lon,
        "lat": lat,
        "address": body.address_string or (building.address if building else None),
        "grid_code": building.micro_grid if building else None,
    }
    name, phone = full_name(body.first_name, body.last_name), _phone(body.phone)
    data = {
        "source": "open311",
        "matter_code": service.code,
        "title": case_title(service.name, body.description),
        "description": body.description or "",
        "location": location,
        "reporter": {"name": name, "phone": phone} if name or phone else None,
        "attachments": [body.media_url] if body.media_url else [],
    }
    try:
        return ReportIn.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, _FIELD_OF) from exc


def case_title(service_name: str, description: str | None) -> str:
    first_line = (description or "").strip().splitlines()[0].strip() if (description or "").strip() else ""
    if not first_line:
        return service_name[:200]
    snippet = first_line if len(first_line) <= TITLE_SNIPPET else first_line[:TITLE_SNIPPET] + "…"
    return f"{service_name}：{snippet}"[:200]


def full_name(first: str | None, last: str | None) -> str | None:
    """Chinese names are written family name first, with no space; others first name first."""
    if not first and not last:
        return None
    if _CJK.search(f"{first or ''}{last or ''}"):
        return f"{last or ''}{first or ''}"
    return " ".join(p for p in (first, last) if p)


def _phone(phone: str | None) -> str | None:
    # Open311 clients format numbers for people: (029) 8765-4321, 138.1234.5678.
    return re.sub(r"[().]", "", phone).strip() if phone else None


def _invalid(exc: ValidationError, rename: Mapping[str, str]) -> InvalidInput:
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"] if not isinstance(p, int))
    name = next((rename[k] for k in (path, path.split(".")[0]) if k in rename), path) or "request"
    message = str(first["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"{name}: {message}", field=name)


# -- services and cases out ---------------------------------------------------------------------------------


def service_view(service: Service) -> dict[str, Any]:
    keywords = service.definition.get("keywords") or []
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.name_en,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(str(k) for k in keywords),
        "group": service.level,
    }


def service_definition(service: Service) -> dict[str, Any]:
    return {"service_code": service.code, "attributes": []}


def deadline_notice(service: Service | None) -> str | None:
    if service is None:
        return None
    accept = float(service.definition.get("accept_within_hours", 2))
    resolve = float(service.definition.get("resolve_within", 72))
    unit = "working days" if service.definition.get("clock") == "working_days" else "h"
    return f"to be accepted within {accept:g} h and resolved within {resolve:g} {unit}"


def posted_view(case_number: str, service: Service) -> dict[str, Any]:
    notice = f"received as case {case_number}, being dispatched; {deadline_notice(service)}"
    return {"service_request_id": case_number, "service_notice": notice, "account_id": None}


def is_closed(state: str) -> bool:
    return state in ENDED


def status_notes(row: Mapping[str, Any], ctx: ReadContext) -> str:
    """Our state, what it means, and why a case ended: `merged: a duplicate of case GD-…, which carries on`."""
    try:
        state = State(row["state"])
    except ValueError:  # a state newer than this code: say it as it is
        return str(row["state"])
    phrase = _NOTES.get(state)
    if state is State.MERGED and row["merged_into"] in ctx.merged_into:
        phrase = f"a duplicate of case {ctx.merged_into[row['merged_into']]}, which carries on"
    reason = ctx.reasons.get(row["case_id"]) if state in TERMINAL else None
    said = "; ".join(p for p in (phrase, reason) if p)
    notes = f"{state.value}: {said}" if said else state.value
    return f"{notes} (overdue)" if row.get("overdue") else notes


def case_request(row: Mapping[str, Any], ctx: ReadContext, tz: ZoneInfo) -> dict[str, Any]:
    """A recorded case as an Open311 service request: no reporter data, ever."""
    location = _json(row["location"]) or {}
    service = ctx.services.get(row["matter_code"] or "")
    attachments = list(row["attachments"] or [])
    return {
        "service_request_id": row["case_number"],
        "status": "closed" if is_closed(row["state"]) else "open",
        "status_notes": status_notes(row, ctx),
        "service_name": service.name if service else None,
        "service_code": row["matter_code"],
        "description": row["description"],
        "agency_responsible": ctx.agencies.get(row["lead"], row["lead"]) if row["lead"] else None,
        "service_notice": deadline_notice(service),
        "requested_datetime": w3c(row["received_at"], tz),
        "updated_datetime": w3c(row["updated_at"], tz),
        "expected_datetime": w3c(row["resolve_by"], tz),
        "address": location.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": attachments[0] if attachments else None,
    }


def pending_request(row: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """A request intake accepted and dispatch has not yet recorded: only what the submission ledger knows."""
    received = w3c(row["received_at"], tz)
    return {
        "service_request_id": row["case_number"],
        "status": "open",
        "status_notes": PENDING_NOTES,
        "service_name": None,
        "service_code": None,
        "description": None,
        "agency_responsible": None,
        "service_notice": None,
        "requested_datetime": received,
        "updated_datetime": received,
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def discovery(base_url: str, changeset: datetime | None, tz: ZoneInfo) -> dict[str, Any]:
    stamp = w3c(changeset, tz)
    return {
        "changeset": stamp,
        "contact": "the district command centre (指挥中心) that runs this griddispatch",
        "key_service": "API keys are issued by the command centre with `griddispatch clients create`",
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": stamp,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }


def w3c(value: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with the offset, in the district's time, to the second (W3C date and time format)."""
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


def parse_w3c(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(f"{name}: not a W3C date and time, e.g. 2026-11-22T09:00:00+08:00", field=name) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name}: needs a time zone (Z or an offset such as +08:00)", field=name)
    return parsed


def date_window(start_date: str | None, end_date: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) of requested_datetime: the last 90 days unless asked, never more than 90 days."""
    since, until = parse_w3c("start_date", start_date), parse_w3c("end_date", end_date)
    if since is None:
        until = until or now
        since = until - MAX_SPAN
    elif until is None:
        until = since + MAX_SPAN
    if until < since:
        raise InvalidInput("end_date: before start_date", field="end_date")
    if until - since > MAX_SPAN:
        raise InvalidInput("end_date: start_date to end_date may not span more than 90 days", field="end_date")
    return since, until + timedelta(microseconds=1)  # end_date itself is included


def wanted_states(status: str | None) -> tuple[tuple[str, ...], bool]:
    """(case states that match, whether requests still being dispatched match) for status=open,closed."""
    names = set(split_list("status", status, 2))
    if names - {"open", "closed"}:
        raise InvalidInput("status: open, closed, or both comma-separated", field="status")
    if names == {"open"}:
        return tuple(values(NOT_ENDED)), True
    if names == {"closed"}:
        return tuple(values(ENDED)), False
    return (), True


def split_list(name: str, value: str | None, most: int) -> list[str]:
    """A comma-separated parameter, blanks dropped, repeats once, at most `most` items."""
    items = list(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))
    if len(items) > most:
        raise InvalidInput(f"{name}: at most {most} values", field=name)
    for item in items:
        checked(name, item)
    return items


def checked(name: str, value: str) -> str:
    try:
        return storable_text(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}", field=name) from exc


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
