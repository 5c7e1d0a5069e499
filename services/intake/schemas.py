"""The intake API's request and response bodies, with the limits and examples the OpenAPI document shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.types import location_problem
from shared.web import problem_responses

Source = Literal["hotline", "grid_app", "camera", "department", "open311", "resident_app", "other"]
Urgency = Literal["low", "normal", "high", "emergency"]
ApiAction = Literal[
    "accept",
    "return",
    "start",
    "progress",
    "resolve",
    "report_in",
    "verify",
    "rate",
    "reopen",
    "summon",
    "cancel",
    "comment",
    "redispatch",
    "claim",
    "hand_over",
    "reassign",
    "urge",
    "supervise_order",
    "reply_order",
    "request_extension",
    "decide_extension",
    "request_suspension",
    "decide_suspension",
    "resume",
]

FUTURE_TOLERANCE = timedelta(minutes=5)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it in any string, or list of strings, of a request body."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not accepted")
    if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
        raise ValueError("NUL characters are not accepted")
    return value


def in_range(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None and not EARLIEST <= value <= LATEST:
        raise ValueError("a time between 1900 and 2200, please")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _no_nul = field_validator("*", mode="after")(no_nul)


class LocationIn(Strict):
    """Where it is: coordinates (WGS84), the grid code an app knows, or an address. At least one."""

    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, examples=[108.9352])
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, examples=[34.2721])
    grid_code: str | None = Field(None, min_length=1, max_length=64, examples=["610199004001001006"])
    address: str | None = Field(None, min_length=1, max_length=200, examples=["莲湖区北院门街道香米园社区3号楼2单元"])

    @model_validator(mode="after")
    def _at_least_one(self) -> LocationIn:
        problem = location_problem(self.lon, self.lat, self.grid_code, self.address)
        if problem is not None:
            raise ValueError(problem)
        return self


class ReporterIn(Strict):
    name: str | None = Field(None, max_length=50, examples=["王先生"])
    phone: str | None = Field(None, max_length=20, pattern=r"^\+?[0-9][0-9\- ]{2,19}$", examples=["13812345678"])


class ReportIn(Strict):
    """A report of a problem: becomes a case."""

    source: Source | None = Field(None, description="defaults to the client's own source", examples=["hotline"])
    source_ref: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="the source's own id, e.g. the hotline ticket number",
        examples=["12345-20261122-0042"],
    )
    matter_code: str | None = Field(None, min_length=1, max_length=64, examples=["manhole_cover_missing"])
    title: str = Field(min_length=1, max_length=200, examples=["路口井盖丢失"])
    description: str = Field("", max_length=5000, examples=["北院门与西大街路口的井盖不见了，晚上很危险"])
    location: LocationIn
    urgency: Urgency = "normal"
    households_affected: int = Field(0, ge=0, le=100_000)
    reporter: ReporterIn | None = None
    observed_at: datetime | None = Field(None, description="when it was seen (RFC 3339 with offset)")
    attachments: list[AnyUrl] = Field(default_factory=list, max_length=10, description="https URLs of photos")

    @field_validator("observed_at")
    @classmethod
    def _observed(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("observed_at needs a time zone offset")
        in_range(value)
        if value > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise ValueError("observed_at is in the future")
        return value

    @field_validator("attachments")
    @classmethod
    def _https(cls, value: list[AnyUrl]) -> list[AnyUrl]:
        for url in value:
            if url.scheme != "https":
                raise ValueError(f"attachment URLs must be https, not {url.scheme}")
        return value


class Accepted(BaseModel):
    """The report is in: the broker has it. Follow it at `status_url`."""

    case_id: str = Field(examples=["0b8e1f4c-7c1e-5f63-9a1b-2f2d4b6f1a10"])
    case_number: str = Field(description="read it out over the phone", examples=["GD-261122-000042"])
    status_url: str = Field(examples=["http://127.0.0.1:8000/v1/cases/0b8e1f4c-7c1e-5f63-9a1b-2f2d4b6f1a10"])
    state: Literal["received"] = "received"
    replayed: bool = Field(False, description="true when this answers a retry of an earlier request")


class ActorIn(Strict):
    id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="the person acting: required with an API key; with a person's token it is the token's person "
        "(omit it, or name yourself: naming anyone else is refused with 403 `forged_actor`)",
        examples=["worker-0042"],
    )
    unit: str | None = Field(
        None,
        max_length=80,
        description="acting for: unit:<code>, branch:<code> or department:<code>",
        examples=["unit:610199004001001006"],
    )
    role: Literal["assignee", "assisting", "supervisor", "resident"] | None = Field(
        None, description="inferred from the case and the client when omitted"
    )


class ActionIn(Strict):
    """An action on a case by its assignee, an assisting unit, a supervisor or the resident."""

    action: ApiAction
    actor: ActorIn
    reason_code: str | None = Field(None, max_length=64, examples=["not_our_jurisdiction"])
    text: str | None = Field(None, max_length=2000, examples=["已到现场，井盖已补装"])
    passed: bool | None = Field(None, description="verify: did the result pass the check")
    satisfied: bool | None = Field(None, description="rate: is the resident satisfied")
    score: int | None = Field(None, ge=1, le=5, description="rate: 1 (very unsatisfied) to 5 (very satisfied)")
    level: Literal["satisfied", "basically_satisfied", "unsatisfied"] | None = Field(
        None,
        description="rate: 满意 satisfied, 基本满意 basically_satisfied (counts as satisfied: the case closes), "
        "不满意 unsatisfied (the case reopens); kept in the history as detail.level",
    )
    departments: list[str] = Field(default_factory=list, max_length=10, description="summon: department codes")
    unit: str | None = Field(
        None,
        max_length=80,
        pattern=r"^((unit|branch|department):)?[A-Za-z0-9_.\-]{1,64}$",
        description="redispatch: the new lead, a unit code (or unit:<code>), department:<code> or branch:<code>; "
        "reassign by a command centre: the part (the lead, or an assisting party) whose person changes",
        examples=["unit:610199004001001", "department:city_management"],
    )

    person: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
        description="hand_over, reassign: the person of the same unit who becomes responsible",
        examples=["610199001001003-p1"],
    )
    colour: Literal["yellow", "red"] | None = Field(
        None, description="supervise_order: the order's colour (黄牌 yellow, the default; 红牌 red)"
    )
    reply_by: datetime | None = Field(
        None,
        description="supervise_order: when the lead must reply by (RFC 3339 with offset, later than now); "
        "default: the catalog's reply_within_hours from now",
    )
    order_id: uuid.UUID | None = Field(None, description="reply_order: the supervision order answered")
    resolve_by: datetime | None = Field(
        None, description="request_extension: the new resolve-by asked for (RFC 3339 with offset, later than now)"
    )
    approved: bool | None = Field(None, description="decide_extension, decide_suspension: approve (true) or refuse")
    resume_at: datetime | None = Field(
        None, description="request_suspension: when the clock runs again by itself (RFC 3339 with offset; optional)"
    )

    @field_validator("reply_by")
    @classmethod
    def _reply_by(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("reply_by needs a time zone offset")
        in_range(value)
        if value <= datetime.now(UTC):
            raise ValueError("reply_by must be later than now")
        return value

    @field_validator("resolve_by", "resume_at")
    @classmethod
    def _later(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a time zone offset, please")
        in_range(value)
        if value <= datetime.now(UTC):
            raise ValueError("must be later than now")
        return value

    @field_validator("unit")
    @classmethod
    def _assignee(cls, value: str | None) -> str | None:
        return value if value is None or ":" in value else f"unit:{value}"

    @model_validator(mode="after")
    def _needs(self) -> ActionIn:
        if self.action == "return" and not (self.reason_code and self.text):
            raise ValueError("a return needs a reason_code and a text")
        if self.action in ("progress", "comment") and not self.text:
            raise ValueError(f"{self.action} needs a text")
        if self.action == "verify" and self.passed is None:
            raise ValueError("verify needs passed: true or false")
        if self.action == "rate" and self.satisfied is None and self.score is None and self.level is None:
            raise ValueError("rate needs a level, satisfied or a score")
        if self.level is not None and self.satisfied is not None and self.satisfied != (self.level != "unsatisfied"):
            raise ValueError(f"level {self.level} contradicts satisfied: {str(self.satisfied).lower()}")
        if self.action == "summon" and not self.departments:
            raise ValueError("summon needs departments")
        if self.action == "redispatch" and not (self.unit and self.text):
            raise ValueError("redispatch needs the new unit and a text saying why")
        if self.action in ("hand_over", "reassign") and not self.person:
            raise ValueError(f"{self.action} needs the person who takes the case over")
        if self.action == "hand_over" and not self.text:
            raise ValueError("hand_over needs a text saying why")
        if self.action in ("urge", "supervise_order") and not self.text:
            raise ValueError(f"{self.action} needs a text: the reason")
        if self.action == "reply_order" and not (self.order_id and self.text):
            raise ValueError("reply_order needs the order_id and a text saying what was done")
        if self.action != "supervise_order" and (self.colour or self.reply_by):
            raise ValueError("colour and reply_by are for supervise_order only")
        if self.action in ("request_extension", "request_suspension") and not self.text:
            raise ValueError(f"{self.action} needs a text: the reason")
        if self.action == "request_extension" and self.resolve_by is None:
            raise ValueError("request_extension needs the resolve_by asked for")
        if self.action in ("decide_extension", "decide_suspension") and self.approved is None:
            raise ValueError(f"{self.action} needs approved: true or false")
        if (self.resolve_by and self.action != "request_extension") or (
            self.resume_at and self.action != "request_suspension"
        ):
            raise ValueError("resolve_by is for request_extension only, resume_at for request_suspension only")
        return self


class ActionAccepted(BaseModel):
    action_id: str
    case_id: str
    action: str
    status_url: str
    replayed: bool = False


PROBLEMS: dict[int, str] = {
    400: "the body could not be read (not UTF-8)",
    401: "no API key or person token, or an unknown, revoked or expired one (`type` says which)",
    403: "this API key (or this person's roles) lacks the scope for this",
    404: "no such case that this client may see",
    409: "contradicts what is recorded",
    413: "request body too large",
    415: "wrong Content-Type",
    422: "invalid request: `field` names what is wrong",
    429: "over this client's rate limit; retry after Retry-After",
    503: "Kafka or PostgreSQL is unreachable: nothing was accepted; retry after Retry-After",
}


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for errors, each `application/problem+json`; `described` overrides the description
    by status (`_409="..."`)."""
    return problem_responses(PROBLEMS, *statuses, **described)


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")
