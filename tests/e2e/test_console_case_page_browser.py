"""The console's case page as a district duty officer reads it at 1920x1080, in headless Chromium against intake,
dispatch and notify on the real Kafka and PostgreSQL: the trace and notes in Chinese with names and local times,
reminders and void deadlines folded, only the actions the case's state allows, a district summoning for its street,
the re-dispatch picker's search and groups, axe-core without serious or critical violations."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.settings import LocalInfraSettings
from tests.e2e.axe import serious_violations
from tests.e2e.console_stack import DISTRICT, STREET, ConsoleStack, console_stack, sign_in_with_key

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
LOCAL = ZoneInfo("Asia/Shanghai")
MICRO_GRID = "610199004001001006"  # holds the stack's POINT
OTHER_GRID = "610199004001002"
LIVE_WAIT_MS = 90_000


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("casepage"), 18480) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "apt-get install chromium (deploy/local/install-system-deps.sh)"
    expect.set_options(timeout=30_000)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser, stack: ConsoleStack) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN", bypass_csp=True)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in_with_key(tab, stack.console_url, stack.keys["district"])
    await expect(tab.locator("#who .who-name")).to_be_visible()
    yield tab
    await context.close()
    assert errors == []


def _names(stack: ConsoleStack) -> dict[str, str]:
    with stack.client("district") as http:
        units = http.get("/v1/units", params={"limit": 5000}).json()["items"]
        departments = http.get("/v1/departments").json()
    items = departments["items"] if isinstance(departments, dict) else departments
    return {
        **{u["code"]: u["name"] for u in units},
        **{f"department:{d['code']}": d["name"] for d in items},
    }


async def _new_case(stack: ConsoleStack, title: str, matter: str) -> str:
    """A new case at the stack's point; one matter a test (the same matter there would merge as a duplicate)."""
    answer = await asyncio.to_thread(stack.submit, title=title, description=f"{title}，请处理", matter_code=matter)
    case_id = str(answer["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    return case_id


async def _open_case(page: Page, stack: ConsoleStack, case_id: str) -> None:
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator(".case-page")).to_have_attribute("data-case-id", case_id)
    if await page.locator("#actor-id").count():
        await page.fill("#actor-id", "值班员李明")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


async def _append_reminders(stack: ConsoleStack, case_id: str, lead: str, count: int) -> None:
    """The district command centre re-alerted `count` times two seconds apart, as dispatch records a realert."""
    conn = await asyncpg.connect(stack.db_url)
    try:
        seq = await conn.fetchval("SELECT max(seq) FROM case_events WHERE case_id = $1", uuid.UUID(case_id))
        state = await conn.fetchval("SELECT state FROM cases WHERE case_id = $1", uuid.UUID(case_id))
        start = datetime.now(LOCAL)
        for n in range(count):
            at = start + timedelta(seconds=2 * n)
            detail = {
                "reason": f"accept deadline {at.isoformat()} missed by {lead}",
                "lead": lead,
                "kind": "accept",
                "next_due": (at + timedelta(hours=2)).isoformat(),
            }
            await conn.execute(
                "INSERT INTO case_events (case_id, seq, event_id, action, from_state, to_state, actor, detail, at)"
                " VALUES ($1, $2, $3, 'realert', $4, $4, $5, $6, $7)",
                uuid.UUID(case_id), seq + 1 + n, f"test-realert-{uuid.uuid4()}", state,
                json.dumps({"id": "system", "role": "system"}), json.dumps(detail), at,
            )  # fmt: skip
    finally:
        await conn.close()


async def test_the_case_page_reads_in_chinese_and_fits_two_screens(page: Page, stack: ConsoleStack) -> None:
    names = await asyncio.to_thread(_names, stack)
    case_id = await _new_case(stack, "楼道里堆放旧家具", "corridor_clutter")
    # Re-dispatched twice (to another grid, then to the district, the top rung): their deadlines go void.
    for unit in (f"unit:{OTHER_GRID}", f"unit:{DISTRICT}"):
        await asyncio.to_thread(stack.act, "district", case_id, "redispatch", unit=unit, text="人工改派")
        await asyncio.to_thread(stack.wait_case, case_id, lambda c, u=unit: c["assignment"]["lead"] == u)
    await _append_reminders(stack, case_id, f"unit:{DISTRICT}", 11)
    case = await asyncio.to_thread(stack.case, case_id)
    void = [d for d in case["deadlines"]["items"] if d["status"] == "void"]
    assert len(void) >= 4

    await _open_case(page, stack, case_id)
    trace = page.locator("#routing-trace")
    await expect(trace).to_contain_text(f"坐标位于微网格「{names[MICRO_GRID]}」")
    accept = next(s for s in case["routing"]["trace"] if s["rule"] == "deadline.accept")
    await expect(trace).to_contain_text(f"至 {_local(accept['detail']['at'])}")  # local time, not UTC
    text = await trace.inner_text()
    assert "unit:" not in text and "locate." not in text and "deadline" not in text
    assert case["routing"]["trace"][0]["rule"] == "locate.point_in_polygon"  # the API keeps the machine's trace

    reminders = page.locator('#timeline li[data-action="realert"]')
    await expect(reminders).to_have_count(1)  # eleven reminders, one line
    await expect(reminders).to_have_attribute("data-count", "11")
    await expect(reminders).to_contain_text("共 11 次")
    await expect(reminders).to_contain_text(f"{names[DISTRICT]}未在签收时限（")
    redispatch = page.locator('#timeline li[data-action="assign"]').last
    await expect(redispatch).to_contain_text(f"主办：{names[DISTRICT]}")
    await expect(page.locator("#deadlines-void")).to_contain_text(f"已失效的时限 {len(void)} 条")
    await expect(page.locator("#deadlines tbody tr")).to_have_count(len(case["deadlines"]["items"]) - len(void))
    assert "unit:" not in await page.locator("#timeline").inner_text()
    await expect(page.locator('#timeline li[data-action="report"] .actor')).to_have_text("居民")  # no client uuid
    await expect(page.locator('#timeline li[data-action="assign"] .actor').first).to_have_text("系统")

    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * 1080, f"the case page is {height} px tall at 1920x1080"
    assert await serious_violations(page) == []


async def test_only_the_actions_the_state_allows_are_offered(page: Page, stack: ConsoleStack) -> None:
    case_id = await _new_case(stack, "楼道灯坏了", "stairwell_lighting")
    await _open_case(page, stack, case_id)
    await expect(page.locator("#case-state")).to_have_text("已派遣（待签收）")
    await expect(page.locator("#action-redispatch")).to_be_visible()
    await expect(page.locator("#action-cancel")).to_be_visible()
    await expect(page.locator("#action-summon")).to_have_count(0)  # a summons needs an accepted case

    await page.fill("#action-cancel textarea[name=text]", "重复上报，作废")
    await page.check("#action-cancel input[name=confirm]")
    await page.click("#action-cancel button[type=submit]")
    await expect(page.locator("#case-state")).to_have_text("已作废", timeout=LIVE_WAIT_MS)
    await expect(page.locator(".case-actions form.action")).to_have_count(0)  # nothing is left to do
    await expect(page.locator("#no-actions")).to_have_text("案件当前状态下没有可执行的操作。")


async def test_the_district_summons_for_the_case_s_street(page: Page, stack: ConsoleStack) -> None:
    names = await asyncio.to_thread(_names, stack)
    case_id = await _new_case(stack, "小广告贴满了楼道", "flyposting")
    case = await asyncio.to_thread(stack.case, case_id)
    lead = case["assignment"]["lead"]
    assert not any(
        p.startswith(("branch:market_supervision", "department:market_supervision"))
        for p in case["assignment"]["assisting"]
    )
    actor = {"id": "网格员王芳", "unit": lead, "role": "assignee"}
    await asyncio.to_thread(stack.act, "grid_app", case_id, "accept", actor=actor)
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "accepted")
    await _open_case(page, stack, case_id)
    await expect(page.locator("#case-state")).to_have_text("已签收")
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * 1080, f"an accepted case's page is {height} px tall at 1920x1080"
    await page.check("#action-summon input[name=departments][value=market_supervision]")
    await page.click("#action-summon button[type=submit]")
    await expect(page.locator('#case-notice .applied[data-action="summon"]')).to_contain_text(
        "操作已生效", timeout=LIVE_WAIT_MS
    )
    summon = page.locator('#timeline li[data-action="summon"]')
    await expect(summon).to_contain_text(f"召集：{names['department:market_supervision']}")
    await expect(summon).to_contain_text(f"{names[DISTRICT]}代表{names[STREET]}吹哨")
    entry = next(e for e in (await asyncio.to_thread(stack.case, case_id))["history"] if e["action"] == "summon")
    assert entry["detail"]["on_behalf_of"] == f"unit:{STREET}" and entry["actor"]["unit"] == f"unit:{DISTRICT}"


async def test_the_re_dispatch_picker_searches_and_groups(page: Page, stack: ConsoleStack) -> None:
    names = await asyncio.to_thread(_names, stack)
    case_id = await _new_case(stack, "非机动车乱停放", "non_motor_parking")
    await _open_case(page, stack, case_id)
    picker = page.locator("#redispatch-unit")
    groups = await picker.locator("optgroup").evaluate_all("gs => gs.map((g) => g.label)")
    assert any(g.startswith("街道（") for g in groups) and any(g.startswith("网格（") for g in groups)
    city = names["department:city_management"]
    assert f"部门 · {city}" in groups

    await page.fill("#redispatch-search", "执法")
    await expect(page.locator("#redispatch-count")).to_contain_text("找到")
    shown = await picker.locator("option").evaluate_all("os => os.map((o) => [o.value, o.textContent])")
    assert shown and all("执法" in text for _, text in shown)
    branch = next(value for value, _ in shown if value.startswith("branch:city_management"))
    await picker.select_option(branch)
    await page.fill("#action-redispatch textarea[name=text]", "属于执法中队的事")
    await page.click("#action-redispatch button[type=submit]")
    await expect(page.locator('#case-notice .applied[data-action="redispatch"]')).to_contain_text(
        "操作已生效", timeout=LIVE_WAIT_MS
    )
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["assignment"]["lead"] == branch, 60)
    assert case["state"] == "assigned"
