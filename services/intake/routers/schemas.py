"""GET /v1/schemas/events[/<type>.json]: the published JSON Schema of each event type's `data`, the documents every
CloudEvent on Kafka and in webhooks names in its `dataschema` (shared/events/schemas.py). Public: contracts, no
case data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.intake.deps import Res
from shared.errors import NotFound
from shared.events.schemas import MEDIA_TYPE, SCHEMA_PATH, data_schema, dataschema_of
from shared.events.types import EVENT_TYPES, EventType

router = APIRouter(tags=["contracts"])


class UnknownEventType(NotFound):
    code = "unknown_event_type"


class EventSchemaLink(BaseModel):
    type: str = Field(examples=["cn.griddispatch.case.changed.v1"])
    url: str = Field(description="the schema's URL: the `dataschema` of every event of this type")
    title: str


@router.get(SCHEMA_PATH, summary="The event types and the URL of each one's published data schema")
async def list_event_schemas(res: Res) -> list[EventSchemaLink]:
    return [
        EventSchemaLink(type=t.value, url=dataschema_of(t, res.public_url.rstrip("/")), title=m.__name__)
        for t, m in EVENT_TYPES.items()
    ]


@router.get(
    SCHEMA_PATH + "/{file}",
    summary="The JSON Schema (2020-12) of `data` in events of one type",
    response_class=JSONResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}, 404: {"description": "no such event type"}},
)
async def get_event_schema(
    res: Res,
    file: str = Path(max_length=200, examples=["cn.griddispatch.case.changed.v1.json"]),
) -> JSONResponse:
    name = file.removesuffix(".json")
    try:
        event_type = EventType(name)
    except ValueError:
        raise UnknownEventType(f"no event type {name!r}; GET {SCHEMA_PATH} lists them", field="file") from None
    schema: dict[str, Any] = data_schema(event_type, res.public_url.rstrip("/"))
    return JSONResponse(schema, media_type=MEDIA_TYPE, headers={"Cache-Control": "public, max-age=300"})
