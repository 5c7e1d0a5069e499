"""The AsyncAPI 3.1 document of griddispatch's Kafka topics, built from the code that defines them.

Topic names, partitions and retention come from `shared.topics`; each message's schema is the pydantic JSON
schema of its envelope `CloudEvent[Model]` (`shared.events`); its key and headers are those `encode` writes;
the examples are real events built with `new_event` and encoded. `griddispatch contracts asyncapi` prints the
document as YAML; `docs/asyncapi.yaml` is that output, committed, and a unit test keeps the two equal.

What cannot be read from an object (which topic carries which event type, what the dead-letter headers are,
the dispatch consumer group) is stated here once, next to the code it describes, and checked by tests.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from griddispatch import __version__
from shared.events import EVENT_TYPES, CloudEvent, EventType, encode, new_event
from shared.events.envelope import CONTENT_TYPE
from shared.events.schemas import SCHEMA_PATH, file_name
from shared.events.types import (
    ActionRejected,
    ActionRequested,
    Actor,
    CaseAssigned,
    CaseChanged,
    Contract,
    DeadlineFired,
    Location,
    Probe,
    Reporter,
    ReportSubmitted,
)
from shared.settings import PROJECT_ROOT, KafkaSettings, LocalInfraSettings
from shared.topics import Topics, TopicSpec

ASYNCAPI_VERSION = "3.1.0"
KAFKA_BINDING_VERSION = "0.5.0"
SAMPLE_DISTRICT = PROJECT_ROOT / "data" / "sample-district"
SCHEMAS = "#/components/schemas/"
GENERATED_BY = "griddispatch contracts asyncapi --out docs/asyncapi.yaml"

# Which event types each core topic carries (the short name is the topic without its prefix):
# reports      <- services/intake/submit.py (and grid-worker apps' bulk sync, straight to Kafka)
# actions      <- services/intake/act.py
# deadlines    <- services/escalation/worker.py (through the outbox); dispatch consumes the escalate tier
# case-events  <- services/dispatch/announce.py change() and rejection()
# assignments  <- services/dispatch/announce.py assignment(), which also writes the department topics
# dead-letter  <- services/dispatch/runtime.py dead_letter(): original bytes, not an event of ours
CARRIES: dict[str, tuple[EventType, ...]] = {
    "reports": (EventType.REPORT_SUBMITTED,),
    "actions": (EventType.ACTION_REQUESTED,),
    "deadlines": (EventType.DEADLINE_FIRED,),
    "case-events": (EventType.CASE_CHANGED, EventType.ACTION_REJECTED),
    "assignments": (EventType.CASE_ASSIGNED,),
    "dead-letter": (),
}

# The consumer group of every dispatch worker: the faust app id (services/dispatch/app.py create_app).
DISPATCH_GROUP = "{prefix}-dispatch"

# The topic `griddispatch infra up` round-trips a probe event through (griddispatch/infra/kafka.py
# round_trip): a fixed name, outside the prefix, one partition, kept an hour.
PROBE_TOPIC = TopicSpec("griddispatch.infra-probe", partitions=1, retention_ms=3600_000)

# What encode() writes in every message's Kafka headers.
ENVELOPE_HEADERS: dict[str, str] = {
    "content-type": (
        "CloudEvents Kafka protocol binding, structured mode: the value is the whole CloudEvent. No `ce_` header is "
        "written (it would mark the message as binary mode to the CloudEvents SDKs' auto-detecting readers)."
    ),
}

# What encode() adds to an event built inside a trace (shared/tracing.py): W3C trace context, the same values as
# the envelope's distributed-tracing extension attributes.
TRACE_HEADERS: dict[str, str] = {
    "traceparent": "W3C trace context of the request or event that caused this one (only inside a trace).",
    "tracestate": "W3C vendor trace state, when the caller sent one.",
}

# The headers services/dispatch/runtime.py dead_letter() writes; the original headers are not kept.
DEAD_LETTER_HEADERS: dict[str, dict[str, Any]] = {
    "dlq_reason": {"type": "string", "description": "Why the message could never be processed (see below)."},
    "dlq_detail": {"type": "string", "maxLength": 2000, "description": "The error, cut to 2,000 characters."},
    "dlq_source": {
        "type": "string",
        "pattern": "^.+:[0-9]+:[0-9]+$",
        "description": "Where the original was: `topic:partition:offset`.",
    },
    "dlq_consumer": {"type": "string", "description": "The consumer that gave up on it.", "examples": ["dispatch"]},
}

# Every `dlq_reason` the code writes (decode() in shared/events/envelope.py, the dispatch runtime and handlers);
# any other griddispatch error that makes an event unprocessable is written as its error `code`.
DEAD_LETTER_REASONS: dict[str, str] = {
    "empty": "the value is empty",
    "not_json": "the value is not JSON (or is nested too deeply to parse safely)",
    "not_an_object": "the value is JSON but not an object",
    "invalid_attribute_name": "an attribute name not lowercase a-z0-9 of at most 20 characters (CloudEvents 1.0)",
    "unknown_type": "`type` is not an event type griddispatch knows (a version it does not read, a typo)",
    "invalid_event": "the envelope or its `data` does not match the schema of its `type`",
    "unexpected_type": "a known type on a topic dispatch does not take it from",
    "duplicate_case_number": "a new case whose case number already belongs to another case",
    "processing_error": "a bug: the handler failed; the original is kept for replay once it is fixed",
}


def camel(name: str) -> str:
    """`case-events` -> `caseEvents`, `CASE_ASSIGNED` -> `caseAssigned`."""
    head, *rest = re.split(r"[-_.]", name.lower())
    return head + "".join(part.capitalize() for part in rest)


def message_id(event_type: EventType) -> str:
    return camel(event_type.name)


def department_codes(directory: Any = SAMPLE_DISTRICT) -> list[str]:
    """Department codes of a registry directory, as they appear in topic names."""
    from shared.registry_files.load import load_directory

    return [code.lower() for code in load_directory(directory).registry.departments]


# --- examples: real events, built and encoded by the code every producer uses --------------------------


def example_events() -> dict[EventType, CloudEvent[Any]]:
    """One event of each type, about one case: a hotline report of an unlicensed workshop in 桃园路 street.

    Fixed ids and times, so the document is the same on every run; the routing values are what the sample
    district's rules decide for this report (`griddispatch route --explain`).
    """
    from services.dispatch.announce import SOURCE as DISPATCH_SOURCE
    from services.dispatch.announce import SYSTEM, derived_id
    from services.escalation.tiers import Firing
    from services.escalation.worker import SOURCE as ESCALATION_SOURCE
    from services.escalation.worker import event_id as firing_id
    from services.intake.submit import EVENT_SOURCE as INTAKE_SOURCE
    from shared.domain.lifecycle import DueKind, Tier

    case_id = "0b7d6f3e-5c1a-5d2e-9f47-3a8c1b2e4d60"
    report_id = "9e0f4c7a-1b2d-4e3f-8a5b-6c7d8e9f0a1b"
    action_id = "4a6b8c0d-2e4f-4a6b-8c0d-2e4f6a8b0c1d"
    refused_id = "8f2a4c6e-0b1d-4f3a-9c5e-7d9f1b3d5e7a"
    lead = "branch:market_supervision-610199002"
    assisting = ("branch:city_management-610199002", "unit:610199002", "unit:610199002001", "unit:610199002001002")
    received = datetime(2026, 11, 23, 1, 12, 3, 417000, tzinfo=UTC)
    accept_by = datetime(2026, 11, 23, 5, 12, tzinfo=UTC)
    resolve_by = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    title = "车库改成卤肉黑作坊，无证经营"

    report = ReportSubmitted(
        case_id=case_id,
        case_number="GD-261123-000042",
        source="hotline",
        source_ref="12345-20261123-0815",
        title=title,
        description="文景社区3号楼下临街车库改成卤肉作坊，没有营业执照，油烟和污水直排到雨水井。",
        location=Location(lon=108.93283, lat=34.27771, address="丰庆区桃园路街道文景社区3号楼下临街车库"),
        urgency="normal",
        households_affected=0,
        reporter=Reporter(name="王女士", phone="138****5210"),
        observed_at=datetime(2026, 11, 23, 0, 40, tzinfo=UTC),
        received_at=received,
        submitted_by="5f1c2a9e-7b3d-4c8e-a1f0-2d4b6c8e0a12",
    )
    changed = CaseChanged(
        case_id=case_id,
        seq=2,
        action="assign",
        from_state="reported",
        to_state="assigned",
        actor=SYSTEM,
        lead=lead,
        assisting=assisting,
        responsible="msa-610199002-zhao",
        detail={
            "lead": lead,
            "assisting": sorted(assisting),
            "level": "street",
            "matter": "unlicensed_business",
            "triage": False,
            "rules": ["locate.point_in_polygon", "classify.keywords", "level.base", "units.lead_branch"],
            "responsible": "msa-610199002-zhao",
        },
    )
    assigned = CaseAssigned(
        case_id=case_id,
        case_number=report.case_number,
        assignee=lead,
        role="lead",
        matter_code="unlicensed_business",
        level="street",
        accept_by=accept_by,
        resolve_by=resolve_by,
        title=title,
        person="msa-610199002-zhao",
    )
    branch_officer = Actor(id="msa-610199002-zhao", role="assignee", unit=lead)
    client = {"client_id": "a3e1c5b7-9d2f-4b6a-8c0e-1f3a5b7d9e2c"}
    action = ActionRequested(
        case_id=case_id, action="accept", actor=branch_officer, text="已受理，今天下午到场核查", payload=client
    )
    rejected = ActionRejected(  # a resolve sent (by another event) before the case was accepted
        case_id=case_id,
        action_event_id=refused_id,
        action="resolve",
        actor=branch_officer,
        state="assigned",
        code="illegal_transition",
        reason=(
            "assignee may not resolve a case that is assigned; "
            "allowed to assignee from assigned: accept, return, escalate, comment"
        ),
    )
    deadline_id = uuid.UUID("c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f")
    warning = Firing(Tier.WARNING, 0, datetime(2026, 11, 23, 3, 12, tzinfo=UTC))  # half the time to accept is gone
    fired = DeadlineFired(
        case_id=case_id,
        deadline_id=str(deadline_id),
        kind=DueKind.ACCEPT,
        tier=warning.tier,
        due_at=accept_by,
        assignee=lead,
        scheduled_at=warning.scheduled_at,
    )

    def at(minute: int, second: int) -> datetime:
        return datetime(2026, 11, 23, 1, minute, second, 52000, tzinfo=UTC)

    events: list[CloudEvent[Any]] = [
        new_event(report, source=INTAKE_SOURCE, subject=case_id, event_id=report_id, time=received),
        new_event(action, source=INTAKE_SOURCE, subject=case_id, event_id=action_id, time=at(31, 8)),
        new_event(
            fired,
            source=ESCALATION_SOURCE,
            subject=case_id,
            event_id=firing_id(deadline_id, warning),
            time=warning.scheduled_at + timedelta(milliseconds=8),
        ),
        new_event(
            changed, source=DISPATCH_SOURCE, subject=case_id, event_id=derived_id(report_id, "change/2"), time=at(12, 4)
        ),
        new_event(
            assigned,
            source=DISPATCH_SOURCE,
            subject=case_id,
            event_id=derived_id(report_id, f"assign/{lead}/lead"),
            time=at(12, 4),
        ),
        new_event(
            rejected,
            source=DISPATCH_SOURCE,
            subject=case_id,
            event_id=derived_id(refused_id, "rejected"),
            time=at(27, 45),
        ),
        new_event(
            Probe(note="infra up"),
            source="/griddispatch/infra",
            subject="probe",
            event_id="1d3f5b7a-9c2e-4a6b-8d0f-2b4d6f8a0c3e",
            time=datetime(2026, 11, 23, 0, 58, 41, 203000, tzinfo=UTC),
        ),
    ]
    return {event.type: event for event in events}


# --- schemas -----------------------------------------------------------------------------------------


def envelope_schema_name(model: type[Contract]) -> str:
    return f"{model.__name__}Event"


def _schemas() -> dict[str, Any]:
    """components.schemas: each type's envelope (`type` pinned to that type) and the data models it uses."""
    schemas: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        envelope: Any = CloudEvent[model]  # type: ignore[valid-type]  # parametrised at run time
        schema: dict[str, Any] = envelope.model_json_schema(ref_template=SCHEMAS + "{model}")
        for name, definition in schema.pop("$defs", {}).items():
            if name == EventType.__name__:
                continue  # replaced below by the one type this envelope carries
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas named {name}")
        schema["description"] = (
            f"A CloudEvents 1.0 envelope (structured JSON) whose `type` is `{event_type.value}` "
            f"and whose `data` is {model.__name__}. Extension attributes may be added; ignore those you "
            "do not know."
        )
        schema["properties"]["type"] = {
            "type": "string",
            "const": event_type.value,
            "title": "Type",
            "description": "Selects the schema of `data`; the `.v1` suffix is the version of that schema.",
        }
        schema["properties"]["subject"]["description"] = "The case id: the same as the Kafka key."
        schema["properties"]["id"]["description"] = (
            "Unique per event and stable across redeliveries: deduplicate on it."
        )
        schema["properties"]["dataschema"]["description"] = (
            f"The URL of the JSON Schema of `data` (`{SCHEMA_PATH}/{file_name(event_type)}` under intake's public "
            "address; the same files are in docs/schemas/events/)."
        )
        schemas[envelope_schema_name(model)] = schema
    return dict(sorted(schemas.items()))


def _key_schema(event_type: EventType, example: str) -> dict[str, Any]:
    if event_type is EventType.PROBE:
        return {"type": "string", "description": "The envelope's subject (`probe`).", "examples": [example]}
    return {
        "type": "string",
        "format": "uuid",
        "description": "The case id (the envelope's `subject`): every event of one case is on one partition, in order.",
        "examples": [example],
    }


def _messages() -> dict[str, Any]:
    examples = example_events()
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        encoded = encode(examples[event_type])
        headers = {name: value.decode() for name, value in encoded.headers}
        if set(headers) != set(ENVELOPE_HEADERS):
            raise ValueError(f"encode() writes headers {sorted(headers)}; describe them in ENVELOPE_HEADERS")
        header_schemas: dict[str, Any] = {
            "content-type": {"type": "string", "const": CONTENT_TYPE},
        }
        doc = (model.__doc__ or "").strip()
        messages[message_id(event_type)] = {
            "name": event_type.value,
            "title": event_type.name.replace("_", " ").capitalize(),
            "summary": doc.splitlines()[0] if doc else event_type.value,
            "contentType": CONTENT_TYPE,
            "headers": {
                "type": "object",
                "required": list(ENVELOPE_HEADERS),
                "properties": {
                    **{name: {**header_schemas[name], "description": text} for name, text in ENVELOPE_HEADERS.items()},
                    **{name: {"type": "string", "description": text} for name, text in TRACE_HEADERS.items()},
                },
            },
            "payload": {"$ref": SCHEMAS + envelope_schema_name(model)},
            "bindings": {
                "kafka": {
                    "key": _key_schema(event_type, encoded.key.decode()),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "examples": [
                {
                    "name": message_id(event_type),
                    "summary": f"Kafka key {encoded.key.decode()!r}",
                    "headers": headers,
                    "payload": json.loads(encoded.value),
                }
            ],
        }
    reasons = "\n".join(f"* `{reason}`: {meaning}" for reason, meaning in DEAD_LETTER_REASONS.items())
    messages["deadLetter"] = {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A message no consumer could ever process: its original key and bytes, and why.",
        "description": (
            "The value and key are the original message's, unchanged (the value may be empty, not JSON, or "
            "huge); the original headers are not kept. `dlq_reason` is one of:\n\n"
            f"{reasons}\n\nor the `code` of another griddispatch error that made the event unprocessable."
        ),
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": list(DEAD_LETTER_HEADERS),
            "properties": {
                name: ({**schema, "examples": list(DEAD_LETTER_REASONS)} if name == "dlq_reason" else schema)
                for name, schema in DEAD_LETTER_HEADERS.items()
            },
        },
        "payload": {"description": "The original value, byte for byte."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original key (the case id), unchanged; may be absent."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return messages


# --- channels and operations -------------------------------------------------------------------------


def _kafka_channel(spec: TopicSpec, *, named: bool = True) -> dict[str, Any]:
    binding: dict[str, Any] = {"topic": spec.name} if named else {}
    binding |= {
        "partitions": spec.partitions,
        "topicConfiguration": {"cleanup.policy": [spec.cleanup_policy], "retention.ms": spec.retention_ms},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }
    return {"kafka": binding}


def _refs(ids: Sequence[str]) -> dict[str, Any]:
    return {i: {"$ref": f"#/components/messages/{i}"} for i in ids}


def _channels(topics: Topics, departments: Sequence[str]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for spec in topics.core_specs():
        short = spec.name.removeprefix(f"{topics.prefix}.")
        carried = [message_id(t) for t in CARRIES[short]] or ["deadLetter"]
        channels[camel(short)] = {
            "address": spec.name,
            "title": short,
            "description": spec.description[0].upper() + spec.description[1:] + ".",
            "messages": _refs(carried),
            "bindings": _kafka_channel(spec),
        }
    template = Topics("{prefix}").department_spec("{department}")
    channels["departmentAssignments"] = {
        "address": template.name,
        "title": "department assignments",
        "description": (
            "One topic per department of the registry: every assignment whose assignee is the department "
            "(`department:<code>`) or one of its branches (`branch:<code>-...`), as on the assignments topic "
            "and with the same event id. Dispatch creates the topics of every registry department when it "
            "starts. Subscribe to your own with any Kafka client and your own consumer group; broker ACLs "
            "can give each department's principal its own topic and nothing else."
        ),
        "parameters": {
            "prefix": {
                "description": "The deployment's topic prefix (GRIDDISPATCH_KAFKA_TOPIC_PREFIX).",
                "default": topics.prefix,
                "examples": [topics.prefix],
            },
            "department": {
                "description": "The department's code in the registry, in lower case (the sample district's codes).",
                "examples": list(departments),
            },
        },
        "messages": _refs([message_id(EventType.CASE_ASSIGNED)]),
        "bindings": _kafka_channel(template, named=False),
    }
    channels["infraProbe"] = {
        "address": PROBE_TOPIC.name,
        "title": "infrastructure probe",
        "description": (
            "`griddispatch infra up` publishes one probe event here and reads it back to prove the broker works. "
            "Not for applications."
        ),
        "messages": _refs([message_id(EventType.PROBE)]),
        "bindings": _kafka_channel(PROBE_TOPIC),
    }
    return channels


def _group(schema: dict[str, Any], client: dict[str, Any] | None = None) -> dict[str, Any]:
    binding: dict[str, Any] = {"groupId": schema}
    if client is not None:
        binding["clientId"] = client
    return {"kafka": {**binding, "bindingVersion": KAFKA_BINDING_VERSION}}


def _operations(prefix: str) -> dict[str, Any]:
    group = DISPATCH_GROUP.format(prefix=prefix)
    dispatch_group = _group(
        {
            "type": "string",
            "const": group,
            "description": (
                "The faust app id: every dispatch worker of the deployment shares this group, so the partitions "
                f"are shared out among them (faust also keeps its internal topic `{group}-__assignor-__leader`). "
                "Offsets start at the earliest record when the group is new."
            ),
        },
        {
            "type": "string",
            "description": f"`{KafkaSettings.model_fields['client_id'].default}-dispatch-<worker id>`",
        },
    )

    notify_group = _group(
        {
            "type": "string",
            "const": f"{prefix}-notify",
            "description": "Every notify worker of the deployment shares this group; offsets are committed after "
            "the deliveries are recorded in PostgreSQL.",
        },
        {"type": "string", "description": f"`{KafkaSettings.model_fields['client_id'].default}`"},
    )

    def op(action: str, channel: str, messages: Sequence[str], summary: str, **extra: Any) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
            **extra,
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
        }

    report, action = message_id(EventType.REPORT_SUBMITTED), message_id(EventType.ACTION_REQUESTED)
    fired, assigned = message_id(EventType.DEADLINE_FIRED), message_id(EventType.CASE_ASSIGNED)
    changed, rejected = message_id(EventType.CASE_CHANGED), message_id(EventType.ACTION_REJECTED)
    probe = message_id(EventType.PROBE)
    return {
        "intakeSendsReports": op(
            "send",
            "reports",
            [report],
            "intake publishes each accepted report (HTTP and Open311) with acks=all before it answers 202.",
        ),
        "gridAppsSendReports": op(
            "send",
            "reports",
            [report],
            "Grid-worker apps' bulk sync may publish reports straight to Kafka, in the same contract.",
            description=(
                "The case id (key, subject and `data.case_id`) must be a UUID the app keeps across retries, so "
                "a report sent twice opens one case."
            ),
        ),
        "intakeSendsActions": op(
            "send", "actions", [action], "intake publishes each action a client asks for on a case."
        ),
        "escalationSendsDeadlines": op(
            "send",
            "deadlines",
            [fired],
            "escalation fires each deadline's warnings, overdue, escalate and re-alert tiers, each once.",
            description="Published from a transactional outbox: at least once, with ids that never change.",
        ),
        "dispatchReceivesReports": op(
            "receive", "reports", [report], "dispatch routes each report to its lead.", bindings=dispatch_group
        ),
        "dispatchReceivesActions": op(
            "receive",
            "actions",
            [action],
            "dispatch applies each action through the lifecycle, or rejects it.",
            bindings=dispatch_group,
        ),
        "dispatchReceivesDeadlines": op(
            "receive",
            "deadlines",
            [fired],
            "dispatch moves a case one rung up on the `escalate` tier of an accept-by or resolve-by, and a missed "
            "report-in to the rung above the party that owes it; warnings and overdue are for notify.",
            bindings=dispatch_group,
        ),
        "dispatchSendsCaseEvents": op(
            "send",
            "caseEvents",
            [changed, rejected],
            "dispatch records every transition (and every refused action) of every case.",
            description="Published from a transactional outbox: at least once, with ids that never change.",
        ),
        "dispatchSendsAssignments": op(
            "send",
            "assignments",
            [assigned],
            "dispatch tells each assignee (lead and assisting) that a case is theirs.",
            description="Published from a transactional outbox: at least once, with ids that never change.",
        ),
        "dispatchSendsDepartmentAssignments": op(
            "send",
            "departmentAssignments",
            [assigned],
            "dispatch copies each assignment of a department or its branch to that department's topic.",
            description="Published from a transactional outbox: at least once, with ids that never change.",
        ),
        **{
            f"notifyReceives{name}": op(
                "receive",
                channel,
                messages,
                "notify turns it into alerts: live streams, webhooks, SMS and e-mail to whoever it concerns.",
                bindings=notify_group,
            )
            for name, channel, messages in (
                ("CaseEvents", "caseEvents", [changed, rejected]),
                ("Assignments", "assignments", [assigned]),
                ("Deadlines", "deadlines", [fired]),
            )
        },
        "dispatchSendsDeadLetters": op(
            "send",
            "deadLetter",
            ["deadLetter"],
            "dispatch parks what it can never process, with the reason, and moves on.",
        ),
        "departmentSystemReceivesAssignments": op(
            "receive",
            "departmentAssignments",
            [assigned],
            "A department's own system subscribes to its own topic, with its own consumer group.",
            description=(
                "Use a group id of your own, starting with your department code (so one prefixed ACL covers "
                "it), and start from the earliest offset so nothing sent before your first start is missed. "
                "Delivery is at least once: deduplicate on the CloudEvents `id`."
            ),
            bindings=_group(
                {
                    "type": "string",
                    "description": "Your system's own group id; never dispatch's and never another system's.",
                    "examples": ["market_supervision.case-system"],
                },
                {"type": "string", "examples": ["market_supervision-case-system"]},
            ),
        ),
        "infraSendsProbe": op("send", "infraProbe", [probe], "`griddispatch infra up` publishes one probe."),
        "infraReceivesProbe": op(
            "receive",
            "infraProbe",
            [probe],
            "`griddispatch infra up` reads its probe back by partition and offset (no consumer group).",
        ),
    }


# --- the document ------------------------------------------------------------------------------------

DESCRIPTION = """\
Every event griddispatch puts on Kafka, and every topic, key, header, schema and consumer group.

* Values are CloudEvents 1.0 in structured JSON mode (`content-type: application/cloudevents+json`); the \
`type` attribute selects the schema of `data` and carries its version (`.v1`).
* The key is the case id (the envelope's `subject`): one case's events are on one partition, in order.
* Delivery is at least once: an event may arrive twice, always with the same `id`; deduplicate on it.
* A department system subscribes to its own topic, `{prefix}.department.{department}.assignments`, with its \
own consumer group.

Generated from the code by `griddispatch contracts asyncapi`; see docs/events.md for a guide."""


def build_asyncapi(prefix: str = "griddispatch", departments: Sequence[str] | None = None) -> dict[str, Any]:
    """The whole document, for topics under `prefix`; `departments` default to the sample district's."""
    topics = Topics(prefix)
    local = LocalInfraSettings.model_fields
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "griddispatch events",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "externalDocs": {
                "description": "CloudEvents 1.0 and its Kafka protocol binding",
                "url": "https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md",
            },
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": f"127.0.0.1:{local['kafka_port'].default}",
                "protocol": "kafka",
                "protocolVersion": local["kafka_version"].default,
                "description": (
                    "The single-node broker `griddispatch infra up` starts (PLAINTEXT, no authentication). "
                    "Elsewhere the brokers are GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS."
                ),
                "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING_VERSION}},
            }
        },
        "channels": _channels(topics, department_codes() if departments is None else departments),
        "operations": _operations(prefix),
        "components": {"schemas": _schemas(), "messages": _messages()},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so descriptions read as they were written; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_yaml(document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return f"# Generated from the code by `{GENERATED_BY}`: do not edit by hand.\n{body}"
