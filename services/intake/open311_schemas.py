"""The Open311 GeoReport v2 face's shapes: the request a client posts, what the answers hold, their OpenAPI."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Format = Literal["json", "xml"]


class Open311RequestIn(BaseModel):
    """POST requests.{fmt} as GeoReport v2 defines it (form-encoded or JSON); unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    api_key: str | None = Field(None, max_length=200, description="the API key (or Authorization: Bearer <key>)")
    jurisdiction_id: str | None = Field(None, max_length=200, examples=["griddispatch.local"])
    service_code: str | None = Field(
        None, max_length=64, description="required: a service_code from services.json", examples=["sanitation"]
    )
    lat: float | None = Field(
        None, ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude, with long", examples=[34.2721]
    )
    long: float | None = Field(
        None, ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude, with lat", examples=[108.9352]
    )
    address_string: str | None = Field(None, max_length=200, examples=["莲湖区北院门街道香米园社区3号楼"])
    address_id: str | None = Field(None, max_length=64, description="a building code of the registry")
    email: str | None = Field(None, max_length=254, description="accepted, not stored")
    device_id: str | None = Field(None, max_length=200, description="accepted, not stored")
    account_id: str | None = Field(None, max_length=200, description="accepted, not stored")
    first_name: str | None = Field(None, max_length=50, examples=["先生"])
    last_name: str | None = Field(None, max_length=50, examples=["王"])
    phone: str | None = Field(None, max_length=30, examples=["13812345678"])
    description: str | None = Field(None, max_length=4000, examples=["小区门口垃圾堆了三天没人清运"])
    media_url: str | None = Field(None, max_length=2000, description="an https URL of a photo")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # Form clients send every field of their form, filled in or not.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if isinstance(value, str):
            storable_text(value)
        return value


def storable_text(value: str) -> str:
    """PostgreSQL text holds neither NUL nor unpaired surrogates: refuse them here rather than fail there."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


@dataclass(frozen=True, slots=True)
class Service:
    """A matter type of the active catalog, seen as an Open311 service."""

    code: str
    name: str
    name_en: str
    level: str
    definition: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Building:
    code: str
    address: str
    micro_grid: str
    lon: float | None
    lat: float | None


@dataclass(frozen=True, slots=True)
class ReadContext:
    """What rendering a page of cases needs besides the rows, looked up once per page."""

    services: Mapping[str, Service] = field(default_factory=dict)
    agencies: Mapping[str, str] = field(default_factory=dict)  # lead -> the unit's, branch's or department's name
    merged_into: Mapping[uuid.UUID, str] = field(default_factory=dict)  # case id -> its case number
    reasons: Mapping[uuid.UUID, str] = field(default_factory=dict)  # case id -> why it was cancelled or merged


# -- what the answers hold (for the OpenAPI document; the handlers build plain dicts) ------------------------


class ServiceOut(BaseModel):
    service_code: str = Field(examples=["sanitation"])
    service_name: str = Field(description="the matter type's Chinese name", examples=["环境卫生"])
    description: str = Field(description="its English name", examples=["Sanitation and litter"])
    metadata: bool = Field(description="always false: no extra attributes are asked for")
    type: Literal["realtime"]
    keywords: str = Field(description="comma-separated", examples=["垃圾,环境卫生,脏乱差"])
    group: str = Field(description="the level that handles it", examples=["micro_grid"])


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]] = Field(description="always empty")


class PostedOut(BaseModel):
    service_request_id: str = Field(description="the case number", examples=["GD-261122-000042"])
    service_notice: str
    account_id: None = None
    media_url: str | None = Field(
        None, description="when a photo was posted as a multipart `media` file: its served copy (a JPEG, no metadata)"
    )


class ServiceRequestOut(BaseModel):
    service_request_id: str = Field(description="the case number", examples=["GD-261122-000042"])
    status: Literal["open", "closed"] = Field(description="closed once the case is closed, cancelled or merged")
    status_notes: str = Field(examples=["in_progress: being handled"])
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None = Field(description="the lead unit's, branch's or department's name")
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None = Field(description="the resolve-by deadline")
    address: str | None
    address_id: None
    zipcode: None
    lat: float | None
    long: float | None
    media_url: str | None


class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: str | None
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: str | None
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


class ErrorOut(BaseModel):
    code: int = Field(description="the HTTP status", examples=[400])
    description: str = Field(examples=["service_code: not provided"])


_ERRORS = {
    400: "a field is missing or invalid: the description names it",
    403: "api_key not provided, unknown or revoked, or without the scope for this",
    404: "unknown service_code, service request or jurisdiction_id",
    409: "the Idempotency-Key was used for a different request",
    429: "over this client's rate limit; retry after Retry-After",
    503: "the broker is unreachable: nothing was accepted; retry after Retry-After",
}
_RETRY = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_XML = {"text/xml": {"schema": {"type": "string", "description": "the same, as GeoReport v2 XML"}}}


def responses(
    ok: Any, *errors: int, ok_status: int = 200, also_ok: int | None = None, body: bool = False
) -> dict[int | str, Any]:
    """OpenAPI responses of an Open311 operation: JSON or XML, errors in Open311's own shape."""
    documented: dict[int | str, Any] = {ok_status: {"description": "OK", "model": ok, "content": _XML}}
    if also_ok is not None:
        retry = "a retry (same Idempotency-Key) of an earlier request: the same answer"
        documented[also_ok] = {"description": retry, "model": ok, "content": _XML}
    for status in errors:
        documented[status] = {"description": _ERRORS[status], "model": list[ErrorOut], "content": _XML}
        if status in (429, 503):
            documented[status]["headers"] = _RETRY
    # A path that matches no operation, a method the path does not allow, and the size, type and text limits
    # answer in the same shape (services/intake/open311_http.py words them).
    documented.setdefault(404, {"description": "no such endpoint", "model": list[ErrorOut], "content": _XML})
    # A parameter that is not valid (fmt: json or xml) or not text: 400 in the same shape, never problem+json.
    documented.setdefault(400, {"description": _ERRORS[400], "model": list[ErrorOut], "content": _XML})
    if body:
        documented.setdefault(400, {"description": _ERRORS[400], "model": list[ErrorOut], "content": _XML})
        documented[400]["description"] += "; or a field that is not UTF-8 text, or JSON nested too deeply"
        documented[413] = {"description": "request body too large", "model": list[ErrorOut], "content": _XML}
        documented[415] = {"description": "wrong Content-Type", "model": list[ErrorOut], "content": _XML}
    other = "any other client error (405, ...), in Open311's shape"
    documented["4XX"] = {"description": other, "model": list[ErrorOut]}
    return documented
