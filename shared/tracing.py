"""W3C trace context (`traceparent`, `tracestate`) from the HTTP request through Kafka to every consumer.

* intake: `TraceRequests` (ASGI middleware) continues the caller's `traceparent`, or starts a trace, for each
  request; `new_event` (shared/events) puts the current context on the events it builds as the CloudEvents
  distributed-tracing extension (`traceparent`, `tracestate` attributes), and `encode` repeats them as Kafka
  headers of the same names, where Kafka tooling looks for them.
* consumers (dispatch, notify): `consuming(event, name)` makes a span of handling one event, a child of the
  event's own context; what the handling causes carries that span's context (dispatch's announcements).
* escalation: a fired deadline starts a trace of its own (`producing`).

Spans are recorded by the OpenTelemetry SDK when `configure_tracing` ran (each service's `serve`), and exported
only when `GRIDDISPATCH_TRACING_EXPORTER` names an exporter (`otlp`: OTLP over HTTP to
`GRIDDISPATCH_TRACING_OTLP_ENDPOINT` or OpenTelemetry's own `OTEL_EXPORTER_OTLP_*` variables; `console`).
Without it the context is still carried, so a trace started by a caller continues across the services.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import bind_context, get_logger
from shared.settings import TracingSettings

log = get_logger(__name__)
PROPAGATOR = TraceContextTextMapPropagator()
FIELDS = ("traceparent", "tracestate")
_tracer = trace.get_tracer("griddispatch")
_configured = False


def configure_tracing(service: str, settings: TracingSettings | None = None) -> None:
    """Install the SDK's tracer provider for this process (once), with the configured exporter."""
    global _configured
    settings = settings or TracingSettings()
    if _configured or not settings.enabled:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"griddispatch-{service}", "service.namespace": "griddispatch"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    exporter: SpanExporter | None = None
    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else OTLPSpanExporter()
    elif settings.exporter == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing_configured", exporter=settings.exporter, sample_ratio=settings.sample_ratio)


def current_fields() -> dict[str, str]:
    """The current trace context as `traceparent` (and `tracestate`), or nothing outside a trace."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return {k: v for k, v in carrier.items() if k in FIELDS and v}


def fields_of(event: Any) -> dict[str, str]:
    """The trace context an event carries (its `traceparent` / `tracestate` extension attributes)."""
    extra: Mapping[str, Any] = getattr(event, "model_extra", None) or {}
    return {k: v for k in FIELDS if isinstance(v := extra.get(k), str) and v}


def _trace_id_of(span: trace.Span) -> str | None:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@contextmanager
def consuming(event: Any, name: str) -> Iterator[dict[str, str]]:
    """A span of handling one event, child of the context it carries; yields the context (fields) to put on
    what the handling causes, and binds the trace id to the logs."""
    parent = PROPAGATOR.extract(fields_of(event))
    with (
        _tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER) as span,
        bind_context(trace_id=_trace_id_of(span)),
    ):
        span.set_attribute("cloudevents.event_id", str(getattr(event, "id", "")))
        span.set_attribute("cloudevents.event_type", str(getattr(getattr(event, "type", ""), "value", "")))
        yield current_fields()


@contextmanager
def producing(name: str) -> Iterator[None]:
    """A trace started here (work no request caused: a fired deadline)."""
    with (
        _tracer.start_as_current_span(name, context=otel_context.Context(), kind=trace.SpanKind.PRODUCER) as span,
        bind_context(trace_id=_trace_id_of(span)),
    ):
        yield


class TraceRequests:
    """ASGI middleware: each HTTP request runs in a server span that continues the caller's `traceparent`;
    the answer carries `traceresponse` (W3C Trace Context Level 2) so the caller can find the trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ()) if k in _WANTED}
        parent = PROPAGATOR.extract(headers)
        name = f"{scope.get('method', 'HTTP')} {scope.get('path', '')}"
        with (
            _tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as span,
            bind_context(trace_id=_trace_id_of(span)),
        ):
            answer = current_fields().get("traceparent")

            async def send_with_trace(message: Message) -> None:
                if message["type"] == "http.response.start":
                    if answer:
                        message.setdefault("headers", [])
                        message["headers"] = [*message["headers"], (b"traceresponse", answer.encode())]
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_with_trace)


_WANTED = (b"traceparent", b"tracestate")
