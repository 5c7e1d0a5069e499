"""A case's consultation (会商): who convened it, whom it invited, by when their opinions are due and the opinions
given. Values only, pure. Stored as the case row's `consultation` column (migration 0023); none: `NO_CONSULTATION`.
One consultation at a time; its outcome (or a new lead) ends it, and the history keeps every step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Opinion:
    """One invited party's answer."""

    party: str
    person: str
    at: datetime
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"party": self.party, "person": self.person, "at": self.at.isoformat(), "text": self.text}

    @classmethod
    def of(cls, data: dict[str, Any]) -> Opinion:
        return cls(str(data["party"]), str(data["person"]), datetime.fromisoformat(str(data["at"])), str(data["text"]))


@dataclass(frozen=True, slots=True)
class Consultation:
    """The open consultation of a case, if any (`consultation_id` None: none)."""

    consultation_id: str | None = None
    convener: str | None = None  # the street or community that convened it (unit:)
    convened_by: str | None = None  # the person who did
    topic: str = ""
    invited: tuple[str, ...] = ()  # units, branches and departments, as cases name them
    opinions_by: datetime | None = None
    opinions: tuple[Opinion, ...] = ()
    closed: bool = False  # its opinions-by passed: no more answers, the convener records the outcome

    @property
    def is_open(self) -> bool:
        return self.consultation_id is not None

    def opinion_of(self, party: str) -> Opinion | None:
        return next((o for o in self.opinions if o.party == party), None)

    @property
    def unanswered(self) -> tuple[str, ...]:
        answered = {o.party for o in self.opinions}
        return tuple(p for p in self.invited if p not in answered)

    def with_opinion(self, opinion: Opinion) -> Consultation:
        return replace(self, opinions=(*self.opinions, opinion))

    def as_dict(self) -> dict[str, Any]:
        if not self.is_open:
            return {}
        return {
            "consultation_id": self.consultation_id,
            "convener": self.convener,
            "convened_by": self.convened_by,
            "topic": self.topic,
            "invited": list(self.invited),
            "opinions_by": self.opinions_by.isoformat() if self.opinions_by else None,
            "opinions": [o.as_dict() for o in self.opinions],
            "closed": self.closed,
        }

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Consultation:
        if not data or not data.get("consultation_id"):
            return NO_CONSULTATION
        by = data.get("opinions_by")
        return cls(
            str(data["consultation_id"]),
            data.get("convener"),
            data.get("convened_by"),
            str(data.get("topic", "")),
            tuple(data.get("invited", ())),
            datetime.fromisoformat(str(by)) if by else None,
            tuple(Opinion.of(o) for o in data.get("opinions", ())),
            bool(data.get("closed", False)),
        )


NO_CONSULTATION = Consultation()
