"""A case's clock beyond its deadlines (延期, 挂起): the extension or suspension asked for and not decided yet, the
extensions approved, and a suspension in force with what was left of each stopped deadline. Values only, pure.

Stored as the case row's `clock` column (migration 0016); a new lead starts with `NO_CLOCK`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Asked:
    """An extension or suspension the lead asked for, waiting for the supervising level."""

    request_id: str  # the asking event's id
    by: str  # the lead unit it was asked for
    person: str  # who asked
    at: datetime
    reason: str
    resolve_by: datetime | None = None  # an extension: the resolve-by asked for
    reason_code: str | None = None  # a suspension: waiting_resident, other_authority, ...
    resume_at: datetime | None = None  # a suspension: when it ends by itself, if asked

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "by": self.by,
            "person": self.person,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "resolve_by": self.resolve_by.isoformat() if self.resolve_by else None,
            "reason_code": self.reason_code,
            "resume_at": self.resume_at.isoformat() if self.resume_at else None,
        }

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Asked | None:
        if not data:
            return None
        return cls(
            str(data["request_id"]),
            str(data["by"]),
            str(data["person"]),
            datetime.fromisoformat(str(data["at"])),
            str(data.get("reason", "")),
            _time(data.get("resolve_by")),
            data.get("reason_code"),
            _time(data.get("resume_at")),
        )


@dataclass(frozen=True, slots=True)
class Stopped:
    """A deadline a suspension stopped: what was left of it, and of each of its warnings, in seconds of its clock
    (office time for a working-day matter, else wall-clock time)."""

    kind: str
    party: str
    left_s: float
    warnings_left_s: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "party": self.party, "left_s": self.left_s, "warnings_left_s": self.warnings_left_s}

    @classmethod
    def of(cls, data: dict[str, Any]) -> Stopped:
        return cls(
            str(data["kind"]),
            str(data["party"]),
            float(data["left_s"]),
            tuple(float(w) for w in data.get("warnings_left_s", ())),
        )


@dataclass(frozen=True, slots=True)
class Suspension:
    """The clock stopped (挂起) since `since`, approved on the request `asked`."""

    since: datetime
    asked: Asked
    stopped: tuple[Stopped, ...] = ()
    working: bool = False  # the stopped deadlines count office time (a working-day matter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "asked": self.asked.as_dict(),
            "stopped": [s.as_dict() for s in self.stopped],
            "working": self.working,
        }

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Suspension | None:
        if not data:
            return None
        asked = Asked.of(data["asked"])
        assert asked is not None
        stopped = tuple(Stopped.of(s) for s in data.get("stopped", ()))
        return cls(datetime.fromisoformat(str(data["since"])), asked, stopped, bool(data.get("working")))


@dataclass(frozen=True, slots=True)
class Clock:
    extensions: int = 0  # approved since the lead was assigned
    extension_asked: Asked | None = None
    suspension_asked: Asked | None = None
    suspended: Suspension | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"extensions": self.extensions}
        if self.extension_asked:
            out["extension_asked"] = self.extension_asked.as_dict()
        if self.suspension_asked:
            out["suspension_asked"] = self.suspension_asked.as_dict()
        if self.suspended:
            out["suspended"] = self.suspended.as_dict()
        return out

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Clock:
        data = data or {}
        return cls(
            int(data.get("extensions", 0)),
            Asked.of(data.get("extension_asked")),
            Asked.of(data.get("suspension_asked")),
            Suspension.of(data.get("suspended")),
        )


NO_CLOCK = Clock()


def _time(raw: Any) -> datetime | None:
    return datetime.fromisoformat(str(raw)) if raw else None
