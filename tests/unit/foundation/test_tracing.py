"""W3C trace context on events and requests (shared/tracing.py), with a tracer provider of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from shared.events import decode, encode, new_event
from shared.events.types import CaseAssigned

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def assigned(case_id: str = "c1") -> CaseAssigned:
    return CaseAssigned(
        case_id=case_id, case_number="GD-1", assignee="unit:1", role="lead", matter_code="m", level="grid", title="t"
    )


def test_an_event_built_outside_a_trace_carries_none() -> None:
    event = new_event(assigned(), source="/t", subject="c1")
    assert "traceparent" not in (event.model_extra or {})
    assert [k for k, _ in encode(event).headers] == ["content-type"]


def test_an_event_handled_in_a_trace_passes_a_child_context_on(spans: InMemorySpanExporter) -> None:
    incoming = new_event(assigned(), source="/t", subject="c1").model_copy(update={"traceparent": SENT})
    incoming = decode(encode(incoming).value)  # as a consumer reads it off Kafka
    assert (incoming.model_extra or {})["traceparent"] == SENT
    with tracing.consuming(incoming, "dispatch report") as fields:
        caused = new_event(assigned("c2"), source="/t", subject="c2")
    _, trace_id, span_id, flags = fields["traceparent"].split("-")
    assert trace_id == TRACE_ID and span_id != "b7ad6b7169203331" and flags == "01"
    assert (caused.model_extra or {})["traceparent"] == fields["traceparent"]
    assert dict(encode(caused).headers)["traceparent"] == fields["traceparent"].encode()  # also a Kafka header
    [span] = spans.get_finished_spans()
    assert span.name == "dispatch report" and span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331
    assert span.attributes is not None and span.attributes["cloudevents.event_id"] == incoming.id


def test_a_malformed_traceparent_starts_a_trace_of_its_own(spans: InMemorySpanExporter) -> None:
    incoming = new_event(assigned(), source="/t", subject="c1").model_copy(update={"traceparent": "00-zz-yy-01"})
    with tracing.consuming(incoming, "notify") as fields:
        pass
    assert fields["traceparent"].split("-")[1] != "zz" and len(fields["traceparent"].split("-")[1]) == 32
    [span] = spans.get_finished_spans()
    assert span.parent is None


def test_a_fired_deadline_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with tracing.producing("deadline fired"):
        event = new_event(assigned(), source="/t", subject="c1")
    [span] = spans.get_finished_spans()
    assert (event.model_extra or {})["traceparent"].split("-")[1] == format(span.context.trace_id, "032x")


async def test_a_request_continues_the_callers_trace_and_answers_traceresponse(spans: InMemorySpanExporter) -> None:
    app = FastAPI()
    built: list[str] = []

    @app.post("/v1/reports")
    async def report() -> dict[str, str]:
        built.append((new_event(assigned(), source="/t", subject="c1").model_extra or {})["traceparent"])
        return {}

    app.add_middleware(tracing.TraceRequests)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        answer = await http.post("/v1/reports", headers={"traceparent": SENT})
        fresh = await http.post("/v1/reports")
    assert answer.headers["traceresponse"] == built[0] and built[0].split("-")[1] == TRACE_ID
    assert fresh.headers["traceresponse"].split("-")[1] not in (TRACE_ID, "0" * 32)  # a trace of its own
    server = [s for s in spans.get_finished_spans() if s.name == "POST /v1/reports"]
    assert len(server) == 2 and server[0].attributes is not None
    assert server[0].attributes["http.response.status_code"] == 200
