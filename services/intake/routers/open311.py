"""Open311 GeoReport v2 under /open311/v2/: services, a service definition, post a request, get requests.

Matter types are the services; a posted request goes through the same submit_report as POST /v1/reports;
requests are read with the same visibility as /v1 reads. Every answer, errors included, is in Open311's own
JSON or XML shape: a standard GeoReport v2 client works unchanged. Mapping: open311_format; answering and
authenticating: open311_http; reads: open311_queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Header, Query, Request, Response

from services.intake import open311_queries as queries
from services.intake import uploads
from services.intake.case_queries import CaseFilter
from services.intake.deps import Res, Resources
from services.intake.open311_format import (
    case_request,
    check_location,
    checked,
    date_window,
    discovery,
    parse_request,
    pending_request,
    posted_view,
    service_definition,
    service_view,
    split_list,
    to_report,
    wanted_states,
)
from services.intake.open311_http import Open311Route, check_jurisdiction, open311_client, render
from services.intake.open311_schemas import (
    DiscoveryOut,
    Format,
    Open311RequestIn,
    PostedOut,
    ServiceDefinitionOut,
    ServiceOut,
    ServiceRequestOut,
    responses,
)
from services.intake.submit import submit_report
from shared.api_clients import ApiClient, Scope
from shared.errors import GridDispatchError, InvalidInput, NotFound
from shared.logging import bind_context
from shared.queries.attachments import AttachmentRow
from shared.text_checks import form_fields

MAX_RESULTS = 1000  # GET requests.{fmt} answers at most this many, newest first
MAX_IDS = 100
MAX_CODES = 50

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)

Jurisdiction = Annotated[
    str | None, Query(max_length=200, description="optional; if given, this server's jurisdiction id")
]
ApiKey = Annotated[
    str | None, Query(max_length=200, description="the API key (or Authorization: Bearer <key>, or X-API-Key)")
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="the same key gives the same request"),
]


def _tz(res: Resources) -> ZoneInfo:
    return ZoneInfo(res.settings.district_timezone)


@router.get(
    "/discovery.{fmt}",
    summary="Open311 service discovery: where this GeoReport v2 endpoint is and what it speaks",
    responses=responses(DiscoveryOut),
)
async def get_discovery(fmt: Format, res: Res) -> Response:
    async with res.pool.acquire() as conn:
        changed = await queries.catalog_changed_at(conn)
    return render(fmt, "discovery", discovery(res.public_url, changed, _tz(res)))


@router.get(
    "/services.{fmt}",
    summary="The matter catalog as Open311 services (no API key needed)",
    responses=responses(list[ServiceOut], 400, 404),
)
async def get_services(fmt: Format, res: Res, jurisdiction_id: Jurisdiction = None) -> Response:
    check_jurisdiction(res, jurisdiction_id)
    async with res.pool.acquire() as conn:
        found = await queries.services(conn)
    return render(fmt, "services", [service_view(s) for s in found])


@router.get(
    "/services/{service_code}.{fmt}",
    summary="A service definition: no extra attributes are asked for (no API key needed)",
    responses=responses(ServiceDefinitionOut, 400, 404),
)
async def get_service_definition(
    service_code: str, fmt: Format, res: Res, jurisdiction_id: Jurisdiction = None
) -> Response:
    check_jurisdiction(res, jurisdiction_id)
    async with res.pool.acquire() as conn:
        found = await queries.service(conn, checked("service_code", service_code))
    if found is None:
        raise NotFound(f"service_code {service_code!r} not found; see services.{fmt}", field="service_code")
    return render(fmt, "service_definition", service_definition(found))


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": Open311RequestIn.model_json_schema()}
            for media in ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
        },
    }
}


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Post a service request: it becomes a case, exactly as POST /v1/reports",
    description="201 once the broker has the report (acks=all); the same Idempotency-Key answers 200 with "
    "the same service_request_id. Needs an API key with the submit scope.",
    openapi_extra=_REQUEST_BODY,
    responses=responses(list[PostedOut], 400, 403, 404, 409, 429, 503, ok_status=201, also_ok=200, body=True),
)
async def post_request(fmt: Format, request: Request, res: Res, idempotency_key: IdempotencyKey = None) -> Response:
    fields, media = await _fields(request)
    check_jurisdiction(res, _text(fields.get("jurisdiction_id")))
    client = await open311_client(res, request, _text(fields.get("api_key")), Scope.SUBMIT)
    body = parse_request(fields)
    if not body.service_code:
        raise InvalidInput("service_code: not provided", field="service_code")
    async with res.pool.acquire() as conn:
        service = await queries.service(conn, body.service_code)
        if service is None:
            raise NotFound(f"service_code {body.service_code!r} not found; see services.{fmt}", field="service_code")
        check_location(body)
        building = await queries.building(conn, body.address_id) if body.address_id else None
    if body.address_id and building is None:
        raise InvalidInput(f"address_id: no building {body.address_id!r} in the registry", field="address_id")
    report = to_report(body, service, building)
    media_url = None
    with bind_context(client_id=str(client.id)):
        if media is not None:  # a photo file in `media`: stored as POST /v1/attachments stores it, bound below
            photo = await _upload_media(res, client, media, idempotency_key)
            report = report.model_copy(update={"attachment_ids": [photo.id]})
            media_url = f"{res.public_url}/v1/attachments/{photo.id}"
        done = await submit_report(
            res.pool, res.producer, res.topics, res.settings, client, report, idempotency_key, res.public_url
        )
    location = {"Location": f"{res.public_url}/open311/v2/requests/{done.case_number}.{fmt}"}
    status = 200 if done.replayed else 201
    posted = posted_view(done.case_number, service) | ({"media_url": media_url} if media_url else {})
    return render(fmt, "service_requests", [posted], status, location)


async def _upload_media(res: Resources, client: ApiClient, media: bytes, idempotency_key: str | None) -> AttachmentRow:
    if res.uploads is None:
        raise InvalidInput("media: this server takes no file uploads; send media_url", field="media")
    key = f"open311:{idempotency_key}" if idempotency_key else None  # a retry of the request reuses its photo
    try:
        row, _ = await uploads.upload(res.pool, res.uploads, client, media, "evidence", key)
    except GridDispatchError as exc:
        if exc.detail.get("field") == "file":
            exc.detail["field"] = "media"  # Open311's name for the photo's field
        raise
    return row


async def _fields(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The posted fields, form-encoded (as Open311 clients send them) or a JSON object, over those of the query
    string (some clients send api_key, or every field, there); and the photo file of a multipart `media`."""
    fields: dict[str, Any] = dict(request.query_params)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            data = await request.json()
        except (ValueError, RecursionError) as exc:
            raise InvalidInput("request body: not valid JSON", field="body") from exc
        if not isinstance(data, dict):
            raise InvalidInput("request body: send a JSON object of Open311 fields", field="body")
        return {**fields, **data}, None
    if media == "application/x-www-form-urlencoded":  # read as UTF-8: the framework's parser takes raw bytes as Latin-1
        return {**fields, **form_fields(await request.body())}, None
    async with request.form() as form:
        files = [(k, v) for k, v in form.multi_items() if not isinstance(v, str)]
        if any(k != "media" for k, _ in files) or len(files) > 1:
            raise InvalidInput("media: one file is taken, a photo, in this field", field="media")
        photo = await files[0][1].read() if files else None
        return {**fields, **{k: form[k] for k in form if k != "media" or not files}}, photo


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@router.get(
    "/requests.{fmt}",
    summary="Service requests this API key may see, newest first (at most 1000, 90 days at most)",
    description="Requests still being dispatched show status open and status_notes "
    "'received, being dispatched'. service_request_id (comma-separated) overrides every other filter.",
    responses=responses(list[ServiceRequestOut], 400, 403, 404, 429),
)
async def get_requests(
    fmt: Format,
    request: Request,
    res: Res,
    api_key: ApiKey = None,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(max_length=4000, description="case numbers")] = None,
    service_code: Annotated[str | None, Query(max_length=2000, description="comma-separated")] = None,
    start_date: Annotated[str | None, Query(max_length=40, description="W3C, e.g. 2026-11-01T00:00:00+08:00")] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed, or both")] = None,
) -> Response:
    check_jurisdiction(res, jurisdiction_id)
    client = await open311_client(res, request, api_key, Scope.READ)
    async with res.pool.acquire() as conn:
        if service_request_id:
            found = await _by_ids(conn, client, split_list("service_request_id", service_request_id, MAX_IDS))
        else:
            found = await _search(conn, client, service_code, start_date, end_date, status)
        return await _render_found(conn, res, fmt, found)


@router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="One service request by its case number (or case id)",
    responses=responses(list[ServiceRequestOut], 400, 403, 404, 429),
)
async def get_request(
    service_request_id: str,
    fmt: Format,
    request: Request,
    res: Res,
    api_key: ApiKey = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    check_jurisdiction(res, jurisdiction_id)
    client = await open311_client(res, request, api_key, Scope.READ, Scope.SUBMIT)
    async with res.pool.acquire() as conn:
        found = await _by_ids(conn, client, [checked("service_request_id", service_request_id)])
        if not found:
            # The same answer whether it does not exist or belongs to someone else: nothing leaks.
            raise NotFound(f"service_request_id {service_request_id!r} not found", field="service_request_id")
        return await _render_found(conn, res, fmt, found)


Found = list[tuple[asyncpg.Record | None, asyncpg.Record]]  # (case, None) or (None, submission)


async def _by_ids(conn: asyncpg.Connection, client: ApiClient, ids: list[str]) -> Found:
    found: Found = []
    for request_id in ids:
        case, submission = await queries.find(conn, client, request_id)
        if case is not None or submission is not None:
            found.append((case, submission))
    return found


async def _search(
    conn: asyncpg.Connection,
    client: ApiClient,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
) -> Found:
    codes = split_list("service_code", service_code, MAX_CODES)
    since, until = date_window(start_date, end_date, datetime.now(UTC))
    states, pending_match = wanted_states(status)
    window = CaseFilter(states=states, received_from=since, received_to=until, limit=MAX_RESULTS)
    cases = await queries.search_cases(conn, client, window, codes)
    # Requests still being dispatched have no service recorded yet: a service_code filter cannot match them.
    waiting = await queries.pending(conn, client, since, until, MAX_RESULTS) if pending_match and not codes else []
    merged = [(c["received_at"], (c, None)) for c in cases] + [(s["received_at"], (None, s)) for s in waiting]
    merged.sort(key=lambda item: item[0], reverse=True)
    return [pair for _, pair in merged[:MAX_RESULTS]]


async def _render_found(conn: asyncpg.Connection, res: Resources, fmt: str, found: Found) -> Response:
    ctx = await queries.read_context(conn, [case for case, _ in found if case is not None])
    tz = _tz(res)
    items = [case_request(c, ctx, tz) if c is not None else pending_request(s, tz) for c, s in found]
    return render(fmt, "service_requests", items)
