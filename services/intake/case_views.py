"""Case rows as the API shows them: personal data masked unless the client may see it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.intake.warning_colour import Colour, colour, worst
from shared.api_clients import ApiClient, Scope
from shared.domain.lifecycle import ENDED
from shared.privacy import mask_name, mask_phone, mask_reporter
from shared.queries.deliveries import Delivery

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")
_ENDED = frozenset(s.value for s in ENDED)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _local(value: Any, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def deadline_colour(d: asyncpg.Record, now: datetime) -> Colour:
    running = d.get("status", "open") == "open"
    return colour(d["due_at"], now, warn_times=d["warn_times"], starts_at=d["starts_at"], running=running)


def responsible_ids(rows: Iterable[asyncpg.Record]) -> set[str]:
    """Every person responsible for a part of these cases: whose names a page of them shows."""
    ids: set[str] = set()
    for row in rows:
        ids.update(p for p in (row["lead_person"], *(_json(row["part_persons"]) or {}).values()) if p)
    return ids


def responsible_view(row: asyncpg.Record, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The responsible persons (派单到人): of the lead (null: nobody on duty and no head) and of each assisting part,
    with their names where `names` has them."""
    names = names or {}
    parts = _json(row["part_persons"]) or {}
    unstaffed = row["lead"] is not None and row["lead_person"] is None and row["state"] not in _ENDED
    return {
        "lead": row["lead_person"],
        "lead_name": names.get(row["lead_person"]) if row["lead_person"] else None,
        "parts": parts,
        "part_names": {party: names[p] for party, p in parts.items() if p in names},
        "unstaffed": unstaffed,
    }


def case_summary(
    row: asyncpg.Record,
    client: ApiClient,
    tz: ZoneInfo = DISTRICT_TZ,
    running: Sequence[asyncpg.Record] = (),
    now: datetime | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`running`: the case's open deadlines, whose most pressing colour the case shows; `names`: person id -> name
    (`responsible_ids` says whose)."""
    now = now or datetime.now(UTC)
    reporter = _json(row["reporter"])
    return {
        "case_id": str(row["case_id"]),
        "case_number": row["case_number"],
        "state": row["state"],
        "source": row["source"],
        "source_ref": row["source_ref"],
        "matter_code": row["matter_code"],
        "level": row["level"],
        "title": row["title"],
        "description": row["description"],
        "location": _json(row["location"]),
        "urgency": row["urgency"],
        "households_affected": row["households"],
        "reporter": reporter if client.has(Scope.PERSONAL_DATA) else mask_reporter(reporter),
        "attachments": list(row["attachments"]),
        "observed_at": _time(row["observed_at"]),
        "received_at": _time(row["received_at"]),
        "updated_at": _time(row["updated_at"]),
        "assignment": {"lead": row["lead"], "assisting": list(row["assisting"]), "place": row["place"]},
        "responsible": responsible_view(row, names),
        "deadlines": {
            "accept_by": _time(row["accept_by"]),
            "resolve_by": _time(row["resolve_by"]),
            "overdue": bool(row["overdue"]),
            "timezone": tz.key,  # the same moments on the district's clock, as the people there read them
            "accept_by_local": _local(row["accept_by"], tz),
            "resolve_by_local": _local(row["resolve_by"], tz),
            "warning": worst(deadline_colour(d, now) for d in running),
        },
        "merged_into": str(row["merged_into"]) if row["merged_into"] else None,
        "duplicates": row["duplicates"],
    }


def _note(detail: dict[str, Any]) -> str | None:
    """What a person wrote or a rule said about the step, in one line."""
    text = detail.get("text") or detail.get("reason") or detail.get("note")
    code = detail.get("reason_code")
    parts = [f"[{code}]" if code else None, str(text) if text else None]
    return " ".join(p for p in parts if p) or None


def deadline_view(d: asyncpg.Record, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "kind": d["kind"],
        "party": d["party"],
        "starts_at": _time(d["starts_at"]),
        "due_at": _time(d["due_at"]),
        "due_at_local": _local(d["due_at"], tz),
        "warn_at": [_time(w) for w in sorted(d["warn_times"])],
        "status": d["status"],
        "closed_at": _time(d["closed_at"]),
        "warning": deadline_colour(d, now),
    }


def case_detail(
    row: asyncpg.Record,
    events: list[asyncpg.Record],
    client: ApiClient,
    tz: ZoneInfo = DISTRICT_TZ,
    deadlines: Sequence[asyncpg.Record] = (),
    now: datetime | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    decision = _json(row["decision"]) or {}
    summary = case_summary(row, client, tz, [d for d in deadlines if d["status"] == "open"], now, names)
    summary["deadlines"]["items"] = [deadline_view(d, now, tz) for d in deadlines]
    progress = _json(row["progress"]) or {}
    return {
        **summary,
        "progress": {  # who still owes its part, who returned the case, how often it was reopened or escalated
            "owing": sorted(progress.get("owing", [])),
            "returned_by": list(progress.get("returned_by", [])),
            "reopens": progress.get("reopens", 0),
            "escalations": progress.get("escalations", 0),
        },
        "supervision": _supervision(row),
        "clock": _json(row.get("clock")) or {},  # extension or suspension asked, extensions approved, suspended
        "consultation": _json(row.get("consultation")) or {},  # 会商: convener, invited, opinions_by, opinions
        "routing": {
            "registry_version": row["registry_version"],
            "decision": {k: v for k, v in decision.items() if k != "trace"},
            "trace": decision.get("trace", []),
        },
        "history": [
            {
                "seq": e["seq"],
                "event_id": e["event_id"],
                "action": e["action"],
                "from_state": e["from_state"],
                "to_state": e["to_state"],
                "actor": _json(e["actor"]),
                "detail": _json(e["detail"]),
                "note": _note(_json(e["detail"]) or {}),
                "at": _time(e["at"]),
            }
            for e in events
        ],
    }


def _supervision(row: asyncpg.Record) -> dict[str, Any]:
    """Who supervises the case (督办) and its open orders (all of them: GET /v1/cases/{id}/supervision)."""
    data = _json(row.get("supervision")) or {}
    return {
        "supervisor": data.get("supervisor"),
        "misses": data.get("misses", 0),
        "open_orders": data.get("orders", []),
    }


def received(row: asyncpg.Record) -> dict[str, Any]:
    """A case intake accepted and dispatch has not yet recorded."""
    return {
        "case_id": str(row["case_id"]),
        "case_number": row["case_number"],
        "state": "received",
        "detail": "received, being dispatched",
        "source": row["source"],
        "source_ref": row["source_ref"],
        "received_at": _time(row["received_at"]),
    }


def _masked_target(channel: str, target: str) -> str:
    if channel == "sms":
        return mask_phone(target) or ""
    if channel == "email":
        local, _, domain = target.partition("@")
        return f"{mask_name(local)}@{domain}"
    return target  # webhook URLs belong to systems, not people


def delivery_view(d: Delivery, client: ApiClient) -> dict[str, Any]:
    personal = client.has(Scope.PERSONAL_DATA)
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "recipient": d.recipient,
        "channel": d.channel,
        "target": d.target if personal else _masked_target(d.channel, d.target),
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "urgent": d.urgent,
        "created_at": _time(d.created_at),
        "last_attempt_at": _time(d.last_attempt_at),
        "next_attempt_at": _time(d.next_attempt_at),
        "delivered_at": _time(d.delivered_at),
    }
