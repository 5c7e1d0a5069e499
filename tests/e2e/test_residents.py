"""Residents' self-service end to end, all four services on the real broker and database (a loop of this module's
own, on ports of its own): the look-up by case number and phone ending, and the rating link of the outcome SMS.

Each test reports at a place of its own with a matter of its own, so no case absorbs another as a duplicate.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from PIL import Image

from shared.resident_links import link_key, mint
from shared.settings import ResidentSettings
from tests import photos
from tests.e2e.loop_fixtures import STREET, Loop, LoopPorts, until

pytestmark = pytest.mark.timeout(600)  # a cold faust worker, and the module's stack starts in the first test

STREET_UNIT = f"unit:{STREET}"
LINK = re.compile(r"https?://\S+/resident/rate/#t=([A-Za-z0-9_\-.]+)")


@pytest.fixture(scope="module")
def loop_ports() -> LoopPorts:
    return LoopPorts(dispatch=18420, notify=18421, receiver=18422)  # this module's own (18420-18439)


@contextlib.asynccontextmanager
async def resident(loop: Loop, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A resident's browser at an address of its own (the limits count per address)."""
    transport = httpx.ASGITransport(app=loop.intake_app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as http:
        yield http


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    code: str = response.json()["type"].rsplit("/", 1)[-1]
    return code


async def handled_case(loop: Loop, report: dict[str, Any], *, verify: bool = True) -> dict[str, Any]:
    """Reported, accepted, started with a progress note, each part reported in, resolved and (unless told not) verified."""
    case_id = await loop.report(report)
    case = await loop.reach(case_id, "assigned", "dispatch")
    lead = case["assignment"]["lead"]
    await loop.act("hotline", case_id, {"action": "accept", "actor": {"id": "w1", "unit": lead}}, "accepted")
    await loop.act("hotline", case_id, {"action": "start", "actor": {"id": "w1", "unit": lead}}, "in_progress")
    note = {"action": "progress", "actor": {"id": "w1", "unit": lead}, "text": "已联系物业，电话13911112222"}
    await loop.post_action("hotline", case_id, note)
    for party in case["assignment"]["assisting"]:
        body = {"action": "report_in", "actor": {"id": "staff", "unit": party}, "text": "已配合处置"}
        await loop.post_action("hotline", case_id, body)

    async def ready() -> bool:
        now = await loop.case(case_id)
        return "progress" in [h["action"] for h in now["history"]] and not now["progress"]["owing"]

    await until(ready, what="the progress note and every part")
    resolve = {"action": "resolve", "actor": {"id": "w1", "unit": lead}, "text": "已清理完毕"}
    case = await loop.act("hotline", case_id, resolve, "resolved")
    if verify:
        check = {"action": "verify", "actor": {"id": "c", "unit": STREET_UNIT}, "passed": True}
        case = await loop.act("street centre", case_id, check, "verified")
    return case


async def sms_link(loop: Loop, phone: str, number: str) -> str:
    """The token of the rating link in the SMS the reporter received for the case."""
    found: list[str] = []

    async def arrived() -> bool:
        found[:] = [m.group(1) for t in loop.hooks.sms_to(phone) if number in t for m in LINK.finditer(t)]
        return bool(found)

    await until(arrived, what=f"the rating SMS to {phone}")
    return found[-1]


async def test_the_right_digits_show_the_progress_and_wrong_digits_answer_as_no_such_case(loop: Loop) -> None:
    phone = "13812345678"
    report = {
        "title": "楼道堆满杂物",
        "description": "3号楼楼道里堆满纸箱杂物",
        "location": {"lon": 108.9352, "lat": 34.2721},
        "reporter": {"name": "王先生", "phone": phone},
    }
    case = await handled_case(loop, report, verify=False)
    number = case["case_number"]
    async with resident(loop, "10.0.1.1") as http:
        right = await http.post("/v1/public/cases/lookup", json={"case_number": number.lower(), "phone_last4": "5678"})
        assert right.status_code == 200, right.text
        body = right.json()
        assert body["case_number"] == number and body["state"] == "resolved"
        assert body["state_text"] == "已办结，等待核查"
        assert body["handler_unit"]  # the lead unit's name, in Chinese
        assert [s["what"] for s in body["steps"]] == ["承办单位已签收", "处置进展", "已办结"]
        assert body["steps"][1]["text"] == "已联系物业，电话*******2222"  # a phone a handler typed is masked
        assert body["steps"][2]["text"] == "已清理完毕"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", body["steps"][0]["at_local"])
        assert body["photos_after"] == []
        assert phone not in right.text and "王先生" not in right.text  # nothing the resident did not give
        wrong = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": "0000"})
        unknown = await http.post(
            "/v1/public/cases/lookup", json={"case_number": "GD-990101-999999", "phone_last4": "5678"}
        )
        for answer in (wrong, unknown):
            assert answer.status_code == 404 and problem_code(answer) == "case_not_found"
        assert wrong.json()["detail"] == unknown.json()["detail"]
        bad = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": "56a8"})
        assert bad.status_code == 422 and problem_code(bad) == "invalid_input"


async def test_guessing_the_phone_ending_is_throttled_per_case_number_from_any_address(loop: Loop) -> None:
    report = {
        "title": "小广告乱贴",
        "description": "单元门上贴满了小广告",
        "location": {"lon": 108.94183, "lat": 34.27145},
        "reporter": {"name": "李女士", "phone": "13900001111"},
    }
    case_id = await loop.report(report)
    number = (await loop.reach(case_id, "assigned", "dispatch"))["case_number"]
    limit = ResidentSettings().failures_per_case
    statuses = []
    for n in range(limit + 1):  # each guess from an address of its own: the per-address limit never bites
        async with resident(loop, f"10.0.2.{n + 1}") as http:
            guess = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": f"{n:04d}"})
            statuses.append(guess.status_code)
    assert statuses == [404] * limit + [429]
    async with resident(loop, "10.0.2.200") as http:
        right = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": "1111"})
        assert right.status_code == 429 and problem_code(right) == "rate_limited"  # the right digits too, now
        assert int(right.headers["Retry-After"]) > 60 * 30  # the window (an hour) is what it waits, not a minute
        unknown = "GD-990101-888888"
        answers = [
            (await http.post("/v1/public/cases/lookup", json={"case_number": unknown, "phone_last4": f"{n:04d}"}))
            for n in range(limit + 1)
        ]
        assert [a.status_code for a in answers] == [404] * limit + [429]  # no such case: the very same answers
    async with resident(loop, "10.0.3.1") as http:  # one address, many case numbers: its own limit
        per_address = ResidentSettings().lookup_per_address
        codes = [
            (
                await http.post(
                    "/v1/public/cases/lookup", json={"case_number": f"GD-990102-{n:06d}", "phone_last4": "1234"}
                )
            ).status_code
            for n in range(per_address + 1)
        ]
        assert codes == [404] * per_address + [429]


async def test_a_basically_satisfied_rating_through_the_sms_link_closes_the_case_and_the_link_works_once(
    loop: Loop,
) -> None:
    phone = "13700002222"
    report = {
        "title": "垃圾桶满溢",
        "description": "小区东门垃圾桶满溢没人管",
        "location": {"lon": 108.92914, "lat": 34.26675},
        "reporter": {"name": "赵先生", "phone": phone},
    }
    case = await handled_case(loop, report)
    case_id, number = case["case_id"], case["case_number"]
    token = await sms_link(loop, phone, number)
    claims = jwt.decode(token, options={"verify_signature": False})
    follow_up = [d for d in case["deadlines"]["items"] if d["kind"] == "follow_up" and d["status"] == "open"]
    assert follow_up and claims["exp"] <= datetime.fromisoformat(follow_up[0]["due_at"]).timestamp() + 1
    async with resident(loop, "10.0.4.1") as http:
        check = await http.post("/v1/public/ratings/check", json={"token": token})
        assert check.status_code == 200, check.text
        assert check.json()["case_number"] == number and check.json()["state"] == "verified"
        rated = await http.post(
            "/v1/public/ratings", json={"token": token, "level": "basically_satisfied", "comment": "还可以"}
        )
        assert rated.status_code == 202, rated.text
        assert rated.json()["level_text"] == "基本满意"
        closed = await loop.reach(case_id, "closed", "the 基本满意 rating to close the case")
        rating = next(h for h in closed["history"] if h["action"] == "rate_satisfied")
        assert rating["detail"]["level"] == "basically_satisfied" and rating["detail"]["text"] == "还可以"
        assert rating["actor"]["role"] == "resident"
        again = await http.post("/v1/public/ratings", json={"token": token, "level": "unsatisfied"})
        assert again.status_code == 409 and problem_code(again) == "rating_link_used"
        seen = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": "2222"})
        assert seen.json()["steps"][-2:] == [
            {**seen.json()["steps"][-2], "what": "您已评价：基本满意"},
            {**seen.json()["steps"][-1], "what": "已结案"},
        ]
    assert [h["action"] for h in closed["history"]].count("rate_satisfied") == 1


async def test_an_unsatisfied_rating_through_the_sms_link_reopens_the_case_for_its_lead(loop: Loop) -> None:
    phone = "13600003333"
    report = {
        "title": "井盖缺失",
        "description": "路口井盖丢了，很危险",
        "location": {"lon": 108.9347, "lat": 34.2668},
        "reporter": {"name": "钱女士", "phone": phone},
    }
    case = await handled_case(loop, report)
    case_id, lead = case["case_id"], case["assignment"]["lead"]
    token = await sms_link(loop, phone, case["case_number"])
    async with resident(loop, "10.0.5.1") as http:
        rated = await http.post(
            "/v1/public/ratings", json={"token": token, "level": "unsatisfied", "comment": "井盖还是没有装好"}
        )
        assert rated.status_code == 202, rated.text
    reopened = await loop.reach(case_id, "reopened", "the unsatisfied rating to reopen the case")
    assert reopened["history"][-1]["action"] == "rate_unsatisfied"
    assert reopened["history"][-1]["detail"]["level"] == "unsatisfied"
    assert reopened["progress"]["reopens"] == 1 and reopened["assignment"]["lead"] == lead
    assert "resolve" in {d["kind"] for d in reopened["deadlines"]["items"] if d["status"] == "open"}
    await loop.act("hotline", case_id, {"action": "accept", "actor": {"id": "w1", "unit": lead}}, "accepted")


async def test_the_hotline_still_rates_by_key_and_an_old_link_or_a_forged_one_is_refused(loop: Loop) -> None:
    phone = "13500004444"
    report = {
        "title": "路面坑洼",
        "description": "人行道地砖塌陷",
        "location": {"lon": 108.93888, "lat": 34.27148},
        "reporter": {"name": "孙先生", "phone": phone},
    }
    case = await handled_case(loop, report)
    case_id = case["case_id"]
    token = await sms_link(loop, phone, case["case_number"])
    rate = {"action": "rate", "actor": {"id": "8890-agent"}, "level": "basically_satisfied", "text": "电话回访"}
    closed = await loop.act("hotline", case_id, rate, "closed")
    rating = next(h for h in closed["history"] if h["action"] == "rate_satisfied")
    assert rating["detail"]["level"] == "basically_satisfied" and rating["actor"]["role"] == "resident"
    key = await link_key(loop.pool, ResidentSettings())
    now = datetime.now(UTC)
    expired = mint(key, uuid.UUID(case_id), now - timedelta(seconds=1), now - timedelta(days=8))
    forged = mint(b"x" * 32, uuid.UUID(case_id), now + timedelta(days=1), now)
    async with resident(loop, "10.0.6.1") as http:
        late = await http.post("/v1/public/ratings", json={"token": token, "level": "satisfied"})
        assert late.status_code == 409 and problem_code(late) == "not_rateable"  # rated already, by the hotline
        gone = await http.post("/v1/public/ratings", json={"token": expired, "level": "satisfied"})
        assert gone.status_code == 410 and problem_code(gone) == "rating_link_expired"
        fake = await http.post("/v1/public/ratings/check", json={"token": forged})
        assert fake.status_code == 404 and problem_code(fake) == "rating_link_not_found"


async def test_the_look_up_shows_the_after_photos_through_signed_links_without_their_location(loop: Loop) -> None:
    phone = "13500004444"
    report = {
        "title": "小区门口垃圾桶满溢",
        "description": "垃圾桶满了好几天没人清运",
        "location": {"lon": 108.9402, "lat": 34.2662},
        "reporter": {"name": "赵女士", "phone": phone},
    }
    case = await handled_case(loop, report, verify=False)
    case_id, number, lead = case["case_id"], case["case_number"], case["assignment"]["lead"]

    async def upload(role: str) -> str:
        file = {"file": ("p.jpg", photos.jpeg(gps=(34.2662, 108.9402)), "image/jpeg")}
        answer = await loop.intake.post("/v1/attachments", files=file, data={"role": role}, headers=loop.h("hotline"))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    before, after = await upload("before"), await upload("after")
    note = {"action": "comment", "actor": {"id": "w1", "unit": lead}, "text": "处置前后照片"}
    answer = await loop.intake.post(
        f"/v1/cases/{case_id}/actions", json={**note, "attachment_ids": [before, after]}, headers=loop.h("hotline")
    )
    assert answer.status_code == 202, answer.text
    async with resident(loop, "10.0.5.1") as http:
        found = await http.post("/v1/public/cases/lookup", json={"case_number": number, "phone_last4": "4444"})
        assert found.status_code == 200, found.text
        [shown] = found.json()["photos_after"]  # the result's photo, not the one from before
        for url in (shown["url"], shown["thumbnail_url"]):
            assert url.startswith("/v1/public/photos/") and after not in url
            served = await http.get(url)  # no key: the signed link is the authority
            assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
            image = Image.open(io.BytesIO(served.content))
            assert image.format == "JPEG" and dict(image.getexif()) == {} and "exif" not in image.info
        thumb = Image.open(io.BytesIO((await http.get(shown["thumbnail_url"])).content))
        assert max(thumb.size) <= 320
        token = shown["url"].rsplit("/", 1)[1]
        forged = await http.get(f"/v1/public/photos/{token[:-4]}AAAA")
        assert forged.status_code == 404 and problem_code(forged) == "photo_not_found"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == after and claims["exp"] - datetime.now(UTC).timestamp() <= 3600
