"""Case rows as the API shows them: personal data masked unless the client may see it."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from shared.api_clients import ApiClient, Scope
from shared.privacy import mask_reporter

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _local(value: Any, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def case_summary(row: asyncpg.Record, client: ApiClient, tz: ZoneInfo = DISTRICT_TZ) -> dict[str, Any]:
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
        "deadlines": {
            "accept_by": _time(row["accept_by"]),
            "resolve_by": _time(row["resolve_by"]),
            "overdue": bool(row["overdue"]),
            "timezone": tz.key,  # the same moments on the district's clock, as the people there read them
            "accept_by_local": _local(row["accept_by"], tz),
            "resolve_by_local": _local(row["resolve_by"], tz),
        },
        "merged_into": str(row["merged_into"]) if row["merged_into"] else None,
        "duplicates": row["duplicates"],
    }


def case_detail(
    row: asyncpg.Record, events: list[asyncpg.Record], client: ApiClient, tz: ZoneInfo = DISTRICT_TZ
) -> dict[str, Any]:
    decision = _json(row["decision"]) or {}
    return {
        **case_summary(row, client, tz),
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
                "at": _time(e["at"]),
            }
            for e in events
        ],
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
