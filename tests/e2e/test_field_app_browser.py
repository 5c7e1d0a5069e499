"""The field app (/app/) on a phone, in a real headless Chromium with mobile emulation (Playwright's Pixel 7 and
iPhone 13 descriptors) against intake, dispatch and notify as processes on the real Kafka and PostgreSQL: a grid
worker signs in, sees their queue, gets a new assignment live, accepts and resolves it; reports a problem found on
patrol with the phone's (mocked) position and sees its grid before sending; reports offline and sees the report
sent once when the network returns; a second phone of the same person shows the same queue.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright, expect

from services.field_app.routes import FIELD_APP_DIR
from shared.settings import LocalInfraSettings
from tests.e2e.console_stack import POINT, SAMPLE, ConsoleStack, console_stack

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Xiguan-Grid-2026!"
GRID = "610199004001001"  # 香米园社区第1网格 of the sample district; POINT lies in its micro-grid 6
POINT_MICRO_GRID = "610199004001001006"
LIVE_WAIT_MS = 90_000
SHELL_FILES = len(  # the app shell's files, as sw.js lists them
    re.findall(r'^\s+"[^"]+",$', (FIELD_APP_DIR / "sw.js").read_text(encoding="utf-8"), re.M)
)


def _inside(micro_grid: str) -> dict[str, float]:
    """A point inside a micro-grid of the sample district (its cells are simple polygons)."""
    for feature in json.loads((SAMPLE / "units.geojson").read_text())["features"]:
        if feature["properties"]["code"] == micro_grid:
            ring = feature["geometry"]["coordinates"][0][:-1]
            return {"lon": sum(p[0] for p in ring) / len(ring), "lat": sum(p[1] for p in ring) / len(ring)}
    raise AssertionError(f"no micro-grid {micro_grid} in the sample district")


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("field-app"), 18440) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[tuple[Playwright, Browser]]:
    assert CHROMIUM.exists(), "apt-get install chromium (deploy/local/install-system-deps.sh)"
    expect.set_options(timeout=30_000)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield playwright, chromium
        finally:
            await chromium.close()


async def _phone(
    browser: tuple[Playwright, Browser], device: str = "Pixel 7", **options: Any
) -> tuple[BrowserContext, Page, list[str]]:
    playwright, chromium = browser
    descriptor = {k: v for k, v in playwright.devices[device].items() if k != "default_browser_type"}
    context = await chromium.new_context(**descriptor, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


async def _person(stack: ConsoleStack, name: str, unit: str) -> str:
    return await asyncio.to_thread(stack.add_person, name, PASSWORD, [("grid_worker", f"unit:{unit}")])


async def _sign_in(page: Page, stack: ConsoleStack, login: str) -> None:
    await page.goto(f"{stack.intake_url}/app/")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#tabs")).to_be_visible()


async def _assigned_case(stack: ConsoleStack, micro_grid: str, title: str, matter: str = "sanitation") -> str:
    location = _inside(micro_grid)
    answer = await asyncio.to_thread(
        stack.submit, title=title, description="请网格员处理", matter_code=matter, location=location
    )
    case_id = str(answer["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    return case_id


async def _parts_reported_in(stack: ConsoleStack, case_id: str) -> None:
    """The assisting departments do their part (报到) through their own system, as a resolve waits for them."""
    case = await asyncio.to_thread(stack.case, case_id)
    for party in case["progress"]["owing"]:
        await asyncio.to_thread(stack.act, "hotline", case_id, "report_in", actor={"id": "dept-1", "unit": party})
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: not c["progress"]["owing"])


async def _takes(stack: ConsoleStack, action: str) -> bool:
    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
        doc = (await http.get("/openapi.json")).json()
    return action in doc["components"]["schemas"]["ActionIn"]["properties"]["action"]["enum"]


async def _check_phone_layout(page: Page) -> None:
    """One column (nothing wider than the screen) and every control a thumb can hit (at least 44 px high)."""
    width = await page.evaluate("() => window.innerWidth")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button, a.button, .tabs a, select, input:not([type=file]), .item')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el.id || el.textContent.trim().slice(0, 12), el.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    assert small == []


async def test_a_grid_worker_gets_a_new_assignment_live_accepts_notes_progress_and_resolves_it(
    browser: tuple[Playwright, Browser], stack: ConsoleStack
) -> None:
    unit = "610199004001001003"  # a micro-grid of this test's own: its worker is the one a new case goes to
    login = await _person(stack, "杨秀敏", unit)
    waiting = await _assigned_case(stack, unit, f"楼道堆满纸箱 {uuid.uuid4().hex[:6]}", "corridor_clutter")
    context, page, errors = await _phone(browser)
    try:
        await _sign_in(page, stack, login)
        await expect(page).to_have_url(re.compile(r"#/queue$"))
        first = page.locator(f'#queue li[data-case-id="{waiting}"]')
        await expect(first).to_be_visible()
        await expect(first).to_have_attribute("data-warning", "blue")
        await expect(first).to_contain_text("蓝牌 · 正常")
        await expect(first).to_contain_text("签收时限")
        await _check_phone_layout(page)
        await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)

        # A new case for this micro-grid while the app is open: it rings and joins the list without a reload.
        await page.tap("#title")  # a touch: the browser lets the app make sound from now on
        title = f"楼道声控灯不亮 {uuid.uuid4().hex[:6]}"
        fresh = await _assigned_case(stack, unit, title, "stairwell_lighting")
        await expect(page.locator("#alert-text")).to_contain_text(f"新派单：{title}", timeout=LIVE_WAIT_MS)
        await expect(page.locator(f'#queue li[data-case-id="{fresh}"]')).to_be_visible(timeout=LIVE_WAIT_MS)
        assert int(await page.evaluate("() => document.documentElement.dataset.rang || '0'")) >= 1

        await page.locator(f'#queue li[data-case-id="{fresh}"] a').tap()
        await expect(page.locator("#case-state")).to_have_text("待签收")
        await expect(page.locator("#spot-map #spot-marker")).to_be_visible()  # the spot on its grid's outline
        await expect(page.locator("#case-place")).to_contain_text("邻里格3")
        # 上报 is offered where this intake takes report_up (wt-reportup), and not before.
        await expect(page.locator("#do-report_up")).to_have_count(1 if await _takes(stack, "report_up") else 0)
        await _check_phone_layout(page)

        await page.tap("#do-accept")
        await expect(page.locator("#case-state")).to_have_text("已签收", timeout=LIVE_WAIT_MS)
        await page.tap("#do-start")
        await expect(page.locator("#case-state")).to_have_text("处置中", timeout=LIVE_WAIT_MS)
        await page.tap("#do-progress")
        await page.fill("#action-progress textarea[name=text]", "已联系物业，今天下午更换")
        await page.tap("#action-progress button[type=submit]")
        await expect(page.locator('#timeline li[data-action="progress"]')).to_contain_text(
            "已联系物业，今天下午更换", timeout=LIVE_WAIT_MS
        )
        await _parts_reported_in(stack, fresh)
        await page.tap("#do-resolve")
        await page.fill("#action-resolve textarea[name=text]", "声控灯已更换")
        await page.tap("#action-resolve button[type=submit]")
        await expect(page.locator("#case-state")).to_have_text("已办结（待核查）", timeout=LIVE_WAIT_MS)
        await expect(page.locator('#timeline li[data-action="resolve"]')).to_contain_text("声控灯已更换")

        case = await asyncio.to_thread(stack.case, fresh)
        steps = {e["action"]: e for e in case["history"]}
        assert steps["accept"]["actor"]["id"] == login and steps["resolve"]["actor"]["id"] == login
        assert steps["resolve"]["actor"]["unit"] == f"unit:{unit}"
        assert errors == []
    finally:
        await context.close()


async def test_a_case_is_returned_with_a_reason_code(browser: tuple[Playwright, Browser], stack: ConsoleStack) -> None:
    unit = "610199004001001004"
    login = await _person(stack, "崔晨", unit)
    case_id = await _assigned_case(stack, unit, f"墙上小广告 {uuid.uuid4().hex[:6]}", "flyposting")
    context, page, errors = await _phone(browser)
    try:
        await _sign_in(page, stack, login)
        await page.goto(f"{stack.intake_url}/app/#/case/{case_id}")
        await page.tap("#do-return")
        await page.select_option("#action-return select[name=reason_code]", "wrong_location")
        await page.fill("#action-return textarea[name=text]", "该处属于相邻网格")
        await page.tap("#action-return button[type=submit]")
        await expect(page.locator('#timeline li[data-action="return"]')).to_contain_text(
            "[wrong_location] 该处属于相邻网格", timeout=LIVE_WAIT_MS
        )
        case = await asyncio.to_thread(stack.case, case_id)
        returned = next(e for e in case["history"] if e["action"] == "return")
        assert returned["detail"]["reason_code"] == "wrong_location" and returned["actor"]["id"] == login
        assert errors == []
    finally:
        await context.close()


async def _attachments_available(stack: ConsoleStack, token: str) -> bool:
    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
        answer = await http.post("/v1/attachments", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code not in (404, 405)


async def test_a_case_is_resolved_with_before_and_after_photos(
    browser: tuple[Playwright, Browser], stack: ConsoleStack, tmp_path: Path
) -> None:
    unit = "610199004001001005"
    login = await _person(stack, "萧琳国", unit)
    tokens = await asyncio.to_thread(stack.sign_in, login, PASSWORD)
    if not await _attachments_available(stack, tokens["access_token"]):
        pytest.skip("needs wt-attachments")
    case_id = await _assigned_case(stack, unit, f"电动车乱停 {uuid.uuid4().hex[:6]}", "non_motor_parking")
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    before.write_bytes((Path(__file__).parents[2] / "services/field_app/static/icons/icon-192.png").read_bytes())
    after.write_bytes((Path(__file__).parents[2] / "services/field_app/static/icons/icon-512.png").read_bytes())
    context, page, errors = await _phone(browser)
    try:
        await _sign_in(page, stack, login)
        await page.goto(f"{stack.intake_url}/app/#/case/{case_id}")
        await page.tap("#do-accept")
        await expect(page.locator("#case-state")).to_have_text("已签收", timeout=LIVE_WAIT_MS)
        await _parts_reported_in(stack, case_id)
        await page.tap("#do-resolve")
        await page.set_input_files("#photo-before", str(before))
        await page.set_input_files("#photo-after", str(after))
        await expect(page.locator("#photo-before-list")).to_have_attribute("data-count", "1")
        await expect(page.locator("#photo-after-list")).to_have_attribute("data-count", "1")
        await page.fill("#action-resolve textarea[name=text]", "车辆已挪走")
        await page.tap("#action-resolve button[type=submit]")
        await expect(page.locator("#case-state")).to_have_text("已办结（待核查）", timeout=LIVE_WAIT_MS)
        async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
            listed = await http.get(
                f"/v1/cases/{case_id}/attachments", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
        assert listed.status_code == 200, listed.text
        assert sorted(a["role"] for a in listed.json()["items"]) == ["after", "before"]
        # The case page shows them (fetched with the token: the copies served carry no EXIF).
        await page.reload()
        photos = page.locator("#case-photos figure")
        await expect(photos).to_have_count(2)
        assert sorted(await photos.evaluate_all("(els) => els.map((el) => el.dataset.role)")) == ["after", "before"]
        await expect(page.locator("#case-photos img").first).to_have_js_property("complete", True)
        assert errors == []
    finally:
        await context.close()


async def test_a_problem_found_on_patrol_is_reported_with_the_grid_shown_before_sending(
    browser: tuple[Playwright, Browser], stack: ConsoleStack
) -> None:
    login = await _person(stack, "郭雪", GRID)
    context, page, errors = await _phone(
        browser,
        "iPhone 13",
        geolocation={"longitude": POINT["lon"], "latitude": POINT["lat"]},
        permissions=["geolocation"],
    )
    try:
        await _sign_in(page, stack, login)
        await page.tap('#tabs a[data-tab="report"]')
        place = page.locator("#place")
        await expect(place).to_have_attribute("data-located", "true")
        await expect(place).to_have_attribute("data-unit", POINT_MICRO_GRID)
        await expect(page.locator("#place-grid")).to_have_text("香米园社区第1网格")
        await expect(page.locator("#place-micro")).to_contain_text("邻里格6")
        await expect(page.locator("#spot-map #spot-marker")).to_be_visible()
        await _check_phone_layout(page)

        text = f"3号楼门口井盖缺失 {uuid.uuid4().hex[:6]}"
        await page.select_option("#matter", "sanitation")
        await page.fill("#report-text", text)
        await page.tap("#send-report")
        key = await page.locator("#report-saved").get_attribute("data-key")
        await page.tap('#tabs a[data-tab="outbox"]')
        sent = page.locator(f'#outbox li[data-key="{key}"]')
        await expect(sent).to_have_attribute("data-status", "sent", timeout=LIVE_WAIT_MS)
        await expect(sent.locator(".case-number")).to_contain_text("案件编号")
        case_id = (await sent.locator("a").get_attribute("href") or "").rsplit("/", 1)[-1]
        case = await asyncio.to_thread(
            stack.wait_case, case_id, lambda c: c["state"] == "assigned" and c["assignment"]["place"] is not None
        )
        assert case["source"] == "grid_app" and case["title"] == text and case["matter_code"] == "sanitation"
        assert case["location"]["lon"] == POINT["lon"] and case["location"]["lat"] == POINT["lat"]
        assert case["assignment"]["place"] == POINT_MICRO_GRID
        assert errors == []
    finally:
        await context.close()


async def _submissions_with_key(stack: ConsoleStack, key: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.db_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT case_id, case_number FROM submissions WHERE idempotency_key = $1", key
        )
        return rows
    finally:
        await conn.close()


async def test_a_report_made_offline_waits_on_the_phone_and_arrives_once_when_online(
    browser: tuple[Playwright, Browser], stack: ConsoleStack
) -> None:
    login = await _person(stack, "姜丽", GRID)
    context, page, errors = await _phone(
        browser, geolocation={"longitude": POINT["lon"], "latitude": POINT["lat"]}, permissions=["geolocation"]
    )
    try:
        await _sign_in(page, stack, login)
        # The app shell is in the service worker's cache before the network goes.
        cached = "() => navigator.serviceWorker.ready.then(() => caches.open('field-app-v1')).then((c) => c.keys()).then((k) => k.length)"
        await page.wait_for_function(f"async () => (await ({cached})()) >= {SHELL_FILES}")
        await page.tap('#tabs a[data-tab="report"]')
        await expect(page.locator("#place")).to_have_attribute("data-located", "true")

        await context.set_offline(True)
        await expect(page.locator("#net")).to_have_text("离线")
        text = f"路灯不亮 {uuid.uuid4().hex[:6]}"
        await page.fill("#report-text", text)
        await page.tap("#send-report")
        saved = page.locator("#report-saved")
        await expect(saved).to_contain_text("已保存在手机上（离线）")
        key = await saved.get_attribute("data-key")
        assert key
        await page.tap('#tabs a[data-tab="outbox"]')
        item = page.locator(f'#outbox li[data-key="{key}"]')
        await expect(item).to_have_attribute("data-status", "pending")
        await expect(page.locator("#outbox-state")).to_contain_text("1 条保存在手机上，联网后自动发送")
        await expect(page.locator("#outbox-count")).to_have_text("1")

        # Closed and opened again with no network: the shell comes from the cache, the report is still queued.
        await page.reload()
        await expect(page.locator("#tabs")).to_be_visible()
        await expect(page.locator(f'#outbox li[data-key="{key}"]')).to_have_attribute("data-status", "pending")
        assert await _submissions_with_key(stack, key) == []

        await context.set_offline(False)
        item = page.locator(f'#outbox li[data-key="{key}"]')
        await expect(item).to_have_attribute("data-status", "sent", timeout=LIVE_WAIT_MS)
        await expect(item.locator(".case-number")).to_contain_text("案件编号")
        rows = await _submissions_with_key(stack, key)
        assert len(rows) == 1

        # A retry of the same report (a response lost on the way back) names the same case: never a second one.
        tokens = await asyncio.to_thread(stack.sign_in, login, PASSWORD)
        body = await page.evaluate(
            """(key) => new Promise((resolve) => {
                const open = indexedDB.open('griddispatch-app');
                open.onsuccess = () => {
                    const get = open.result.transaction('outbox').objectStore('outbox').get(key);
                    get.onsuccess = () => resolve(get.result.body);
                };
            })""",
            key,
        )
        async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
            again = await http.post(
                "/v1/reports",
                json=body,
                headers={"Authorization": f"Bearer {tokens['access_token']}", "Idempotency-Key": key},
            )
        assert again.status_code == 202 and again.json()["replayed"] is True
        assert again.json()["case_id"] == str(rows[0]["case_id"])
        assert len(await _submissions_with_key(stack, key)) == 1
        case = await asyncio.to_thread(stack.wait_case, str(rows[0]["case_id"]), lambda c: c["state"] == "assigned")
        assert case["title"] == text
        assert errors == []
    finally:
        await context.close()


async def test_a_second_phone_of_the_same_person_shows_the_same_queue(
    browser: tuple[Playwright, Browser], stack: ConsoleStack
) -> None:
    unit = "610199004001002001"
    login = await _person(stack, "卫晓", unit)
    case_ids = [
        await _assigned_case(stack, unit, f"{title} {uuid.uuid4().hex[:6]}", matter)
        for title, matter in (("楼道堆放杂物", "corridor_clutter"), ("垃圾分类混投", "waste_sorting"))
    ]
    one, page_one, errors_one = await _phone(browser, "Pixel 7")
    two, page_two, errors_two = await _phone(browser, "iPhone 13")
    try:
        await _sign_in(page_one, stack, login)
        await _sign_in(page_two, stack, login)
        shown = []
        for page in (page_one, page_two):
            for case_id in case_ids:
                await expect(page.locator(f'#queue li[data-case-id="{case_id}"]')).to_be_visible()
            shown.append(await page.locator("#queue li").evaluate_all("(els) => els.map((el) => el.dataset.caseId)"))
        assert shown[0] == shown[1]  # the same cases in the same order (due soonest first)

        # Accepted on one phone: the other's list follows on the live stream.
        await expect(page_two.locator("#live")).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)
        await page_one.goto(f"{stack.intake_url}/app/#/case/{case_ids[0]}")
        await page_one.tap("#do-accept")
        await expect(page_one.locator("#case-state")).to_have_text("已签收", timeout=LIVE_WAIT_MS)
        await expect(page_two.locator(f'#queue li[data-case-id="{case_ids[0]}"] .state')).to_have_text(
            "已签收", timeout=LIVE_WAIT_MS
        )
        assert errors_one == [] and errors_two == []
    finally:
        await one.close()
        await two.close()


async def test_a_case_beyond_the_unit_is_reported_up(browser: tuple[Playwright, Browser], stack: ConsoleStack) -> None:
    if not await _takes(stack, "report_up"):
        pytest.skip("needs wt-reportup")
    unit = "610199004001001001"
    login = await _person(stack, "廖志静", unit)
    case_id = await _assigned_case(stack, unit, f"楼道杂物多次清理仍堆放 {uuid.uuid4().hex[:6]}", "corridor_clutter")
    context, page, errors = await _phone(browser)
    try:
        await _sign_in(page, stack, login)
        await page.goto(f"{stack.intake_url}/app/#/case/{case_id}")
        await page.tap("#do-report_up")
        await page.fill("#action-report-up textarea[name=text]", "涉及多户，需社区协调")
        await page.tap("#action-report-up button[type=submit]")
        await expect(page.locator('#timeline li[data-action="report_up"]')).to_contain_text(
            "涉及多户，需社区协调", timeout=LIVE_WAIT_MS
        )
        await expect(page.locator("#do-report_up")).to_have_count(0)  # one report-up waits for its decision
        case = await asyncio.to_thread(stack.case, case_id)
        step = next(e for e in case["history"] if e["action"] == "report_up")
        assert step["actor"]["id"] == login
        assert errors == []
    finally:
        await context.close()
