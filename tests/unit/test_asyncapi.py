"""docs/asyncapi.yaml is what the code generates now, and what it says is true of the code and of the wire.

Nothing here reaches the network: the document is checked against the AsyncAPI 3 object model of the
`asyncapi3` package (when installed), its schemas with jsonschema_rs, and its examples against `decode`.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from griddispatch.asyncapi import (
    CARRIES,
    DEAD_LETTER_HEADERS,
    DEAD_LETTER_REASONS,
    DISPATCH_GROUP,
    ENVELOPE_HEADERS,
    build_asyncapi,
    example_events,
    render_yaml,
)
from griddispatch.cli import app
from shared.events import EVENT_TYPES, EventType, decode, encode
from shared.settings import PROJECT_ROOT
from shared.topics import Topics

COMMITTED = PROJECT_ROOT / "docs" / "asyncapi.yaml"
EVENTS_GUIDE = PROJECT_ROOT / "docs" / "events.md"
REGENERATE = "regenerate it: griddispatch contracts asyncapi --out docs/asyncapi.yaml"


@pytest.fixture(scope="module")
def generated() -> str:
    return render_yaml(build_asyncapi("griddispatch"))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    return loaded


def _messages_named(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in doc["components"]["messages"].values()}


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# --- never drifts from the code -------------------------------------------------------------------------


def test_committed_document_is_what_the_code_generates(generated: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == generated, f"docs/asyncapi.yaml is stale; {REGENERATE}"


def test_the_command_prints_and_writes_the_same_document(generated: str, tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(app, ["contracts", "asyncapi"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == generated
    out = tmp_path / "asyncapi.yaml"
    written = runner.invoke(app, ["contracts", "asyncapi", "--out", str(out), "--prefix", "griddispatch"])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == generated


def test_prefix_names_every_core_topic() -> None:
    doc = build_asyncapi("acme", departments=["police"])
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {s.name for s in Topics("acme").core_specs()} <= addresses
    group = doc["operations"]["dispatchReceivesReports"]["bindings"]["kafka"]["groupId"]
    assert group["const"] == "acme-dispatch"


# --- says what the code does ----------------------------------------------------------------------------


def test_is_asyncapi_3_1_and_parses_as_yaml(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.1.0"
    assert doc["servers"]["local"] == {**doc["servers"]["local"], "host": "127.0.0.1:29092", "protocol": "kafka"}
    assert doc["defaultContentType"] == "application/cloudevents+json"


def test_every_event_type_is_a_message_on_a_channel(doc: dict[str, Any]) -> None:
    named = _messages_named(doc)
    on_channels = {
        _resolve(doc, ref["$ref"])["name"] for c in doc["channels"].values() for ref in c["messages"].values()
    }
    for event_type in EventType:
        assert event_type.value in named, event_type
        assert event_type.value in on_channels, event_type
        headers = named[event_type.value]["headers"]
        assert headers["properties"]["content-type"]["const"] == "application/cloudevents+json"
        assert not [h for h in headers["properties"] if h.startswith("ce_")]
        assert set(headers["required"]) == set(ENVELOPE_HEADERS)


def test_every_core_topic_is_a_channel_with_its_partitions_and_retention(doc: dict[str, Any]) -> None:
    by_address = {c["address"]: c for c in doc["channels"].values()}
    specs = Topics("griddispatch").core_specs()
    assert {s.name.removeprefix("griddispatch.") for s in specs} == set(CARRIES)
    for spec in specs:
        kafka = by_address[spec.name]["bindings"]["kafka"]
        assert kafka["topic"] == spec.name
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"] == {
            "cleanup.policy": [spec.cleanup_policy],
            "retention.ms": spec.retention_ms,
        }


def test_department_channel_is_the_topic_dispatch_writes(doc: dict[str, Any]) -> None:
    channel = doc["channels"]["departmentAssignments"]
    topics = Topics("griddispatch")
    for code in channel["parameters"]["department"]["examples"]:
        address = channel["address"].format(prefix=channel["parameters"]["prefix"]["default"], department=code)
        assert address == topics.department_assignments(code)
        spec = topics.department_spec(code)
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        assert channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == spec.retention_ms
    assert "market_supervision" in channel["parameters"]["department"]["examples"]
    assert [_resolve(doc, r["$ref"])["name"] for r in channel["messages"].values()] == [EventType.CASE_ASSIGNED.value]


def test_consumer_groups_are_in_the_operation_bindings(doc: dict[str, Any]) -> None:
    ops = doc["operations"]
    receivers = [name for name, op in ops.items() if op["action"] == "receive" and name.startswith("dispatch")]
    assert len(receivers) == 3
    for name in receivers:
        assert ops[name]["bindings"]["kafka"]["groupId"]["const"] == "griddispatch-dispatch"
    department = ops["departmentSystemReceivesAssignments"]["bindings"]["kafka"]["groupId"]
    assert "const" not in department and department["examples"]
    # The group is the faust app id: create_app names it so (a faust App is not built here: it writes a data dir).
    app_source = (PROJECT_ROOT / "services" / "dispatch" / "app.py").read_text(encoding="utf-8")
    assert DISPATCH_GROUP.replace("{prefix}", "{kafka.topic_prefix}") in app_source


def test_dead_letter_headers_and_reasons_are_those_the_code_writes(doc: dict[str, Any]) -> None:
    runtime = (PROJECT_ROOT / "services" / "dispatch" / "runtime.py").read_text(encoding="utf-8")
    written = set(re.findall(r'\("(dlq_\w+)", ', runtime))
    assert written == set(DEAD_LETTER_HEADERS)
    message = doc["components"]["messages"]["deadLetter"]
    assert set(message["headers"]["required"]) == written
    sources = [*(PROJECT_ROOT / "services").rglob("*.py"), *(PROJECT_ROOT / "shared" / "events").rglob("*.py")]
    code = "\n".join(p.read_text(encoding="utf-8") for p in sources if "intake" not in p.parts)
    raised = set(re.findall(r'reason="(\w+)"', code))
    assert raised <= set(DEAD_LETTER_REASONS), f"undocumented dead-letter reasons: {raised - set(DEAD_LETTER_REASONS)}"
    for reason in DEAD_LETTER_REASONS:
        assert f'"{reason}"' in code, f"{reason} is documented but no longer written"
        assert f"`{reason}`" in message["description"]


def test_every_reference_resolves_and_schemas_are_draft_07(doc: dict[str, Any]) -> None:
    refs = [node for node in _walk(doc) if "$ref" in node]
    assert refs
    for node in refs:
        assert _resolve(doc, node["$ref"]) is not None
        assert set(node) == {"$ref"}, f"draft-07 ignores what stands beside $ref: {node}"
    assert not any("$defs" in node or "prefixItems" in node for node in _walk(doc["components"]["schemas"]))
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    draft_07 = "http://json-schema.org/draft-07/schema#"  # the meta-schema jsonschema_rs bundles: read offline
    for name, schema in doc["components"]["schemas"].items():
        jsonschema_rs.meta.validate({"$schema": draft_07, **schema})
        # payloads are objects; the domain's vocabularies (DueKind, Tier) are string enums they refer to
        assert schema["type"] == "object" or (schema["type"] == "string" and schema["enum"]), name


# --- the wire matches the document ------------------------------------------------------------------------


def test_real_encoded_events_match_their_message(doc: dict[str, Any]) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    named = _messages_named(doc)
    examples = example_events()
    assert set(examples) == set(EVENT_TYPES)
    for event_type, event in examples.items():
        message = named[event_type.value]
        encoded = encode(event)
        payload = jsonschema_rs.Draft7Validator(
            {"$ref": message["payload"]["$ref"], "components": doc["components"]}, validate_formats=True
        )
        value = json.loads(encoded.value)
        assert payload.is_valid(value), list(payload.iter_errors(value))
        headers = {k: v.decode() for k, v in encoded.headers}
        assert jsonschema_rs.Draft7Validator(message["headers"]).is_valid(headers)
        key = jsonschema_rs.Draft7Validator(message["bindings"]["kafka"]["key"], validate_formats=True)
        assert key.is_valid(encoded.key.decode())
        # the example in the document is that very message, and it decodes as its type
        assert message["examples"] == [{**message["examples"][0], "headers": headers, "payload": value}]
        assert decode(encoded.value).type is event_type
        # a different type, or data of another shape, is refused
        assert not payload.is_valid({**value, "type": "cn.griddispatch.unknown.v1"})
        assert not payload.is_valid({**value, "data": {**value["data"], "unexpected": 1}})


def test_valid_against_the_asyncapi_3_object_model(doc: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # the package's models shadow pydantic's deprecated BaseModel.schema
        warnings.simplefilter("ignore")
        models = pytest.importorskip("asyncapi3.models", reason="asyncapi3 is not installed")
        models.AsyncAPI3.model_validate(doc)
        broken = json.loads(json.dumps(doc))
        broken["channels"]["reports"]["bindings"]["kafka"]["partitionz"] = 6
        with pytest.raises(ValueError):
            models.AsyncAPI3.model_validate(broken)


# --- the guide for department systems shows these same events ----------------------------------------------


def test_the_guide_shows_each_event_type_as_encoded() -> None:
    text = EVENTS_GUIDE.read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.DOTALL)]
    shown = {b["type"]: b for b in blocks if isinstance(b, dict) and b.get("specversion") == "1.0"}
    for event_type, event in example_events().items():
        assert shown.get(event_type.value) == json.loads(encode(event).value), (
            f"docs/events.md: the {event_type.value} example is not what example_events() encodes now; "
            "replace its JSON with json.dumps(json.loads(encode(event).value), indent=2, ensure_ascii=False)"
        )
    for reason in DEAD_LETTER_REASONS:
        assert f"| `{reason}` |" in text, reason
    for header in DEAD_LETTER_HEADERS:
        assert f"| `{header}` |" in text, header
    for block in re.findall(r"```python\n(.*?)\n```", text, re.DOTALL):
        compile(block, "docs/events.md", "exec")


def test_deadline_kinds_and_tiers_are_listed_from_the_domain(doc: dict[str, Any]) -> None:
    from shared.domain.lifecycle import DueKind, Tier

    schemas = doc["components"]["schemas"]
    fired = schemas["DeadlineFired"]["properties"]
    assert _resolve(doc, fired["kind"]["$ref"])["enum"] == [k.value for k in DueKind]
    assert _resolve(doc, fired["tier"]["$ref"])["enum"] == [t.value for t in Tier]
