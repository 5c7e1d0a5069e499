"""The console as a person, in a real headless Chromium (Debian's, driven by Playwright) against intake, dispatch
and notify as processes on the real Kafka and PostgreSQL: signing in with a password (and failing to), the
tokens' hand-over from single sign-on, silent refresh, signing out, and a grid worker's queue (我的待办).

The stack runs with short access tokens (30 s) and an early lockout (3 failures) so both show within a test.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.settings import LocalInfraSettings
from tests.e2e.console_stack import SAMPLE, STREET, ConsoleStack, console_stack

pytestmark = pytest.mark.timeout(600)  # the module's stack starts within the first test's limit

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (deploy/local/install-system-deps.sh installs it)
MICRO_GRID = "610199004001001006"  # holds the stack's POINT
GRID = "610199004001001"
PASSWORD = "Xiguan-Grid-2026!"
LIVE_WAIT_MS = 90_000
ACCESS_SECONDS = 30


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    env = {"GRIDDISPATCH_AUTH_ACCESS_MINUTES": str(ACCESS_SECONDS / 60), "GRIDDISPATCH_AUTH_LOCKOUT_AFTER": "3"}
    with console_stack(tmp_path_factory.mktemp("console-people"), 18420, extra_env=env) as running:
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


async def _page(browser: Browser, **options: Any) -> tuple[Page, list[str]]:
    context = await browser.new_context(
        viewport=options.pop("viewport", {"width": 1400, "height": 900}), locale="zh-CN", **options
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def _person(stack: ConsoleStack, name: str, roles: list[tuple[str, str]]) -> str:
    return await asyncio.to_thread(stack.add_person, name, PASSWORD, roles)


async def _sign_in(page: Page, stack: ConsoleStack, login: str, password: str = PASSWORD) -> None:
    await page.goto(stack.console_url)
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("#sign-in button[type=submit]")


async def _me(stack: ConsoleStack, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
        return await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})


def _stored(page: Page) -> Any:
    return page.evaluate(
        """() => ({
            session: JSON.parse(sessionStorage.getItem("griddispatch.console.session") || "null"),
            local: Object.keys(localStorage),
        })"""
    )


async def test_a_person_signs_in_with_a_password_sees_their_name_and_signs_out(
    browser: Browser, stack: ConsoleStack
) -> None:
    login = await _person(stack, "廖志静", [("duty_officer", f"unit:{STREET}")])
    page, errors = await _page(browser)
    try:
        await page.goto(stack.console_url)
        await expect(page.locator("#sign-in h2")).to_have_text("登录指挥中心")
        await expect(page.locator("#login")).to_be_focused()
        # No single sign-on is configured on this stack: no button for it; the key stays a folded option.
        await expect(page.locator("#sso-sign-in")).to_have_count(0)
        await expect(page.locator("#api-key")).to_be_hidden()

        await _sign_in(page, stack, login, "not-the-password")
        await expect(page.locator("#sign-in .problem")).to_contain_text("用户名（或手机号）或密码错误")
        await expect(page.locator("#password")).to_have_value("")
        await expect(page.locator("#nav")).to_be_hidden()

        await _sign_in(page, stack, login)
        await expect(page.locator("#who .who-name")).to_have_text("廖志静")
        await expect(page.locator("#who .who-name")).to_have_attribute("data-kind", "person")
        await expect(page.locator("#who .who-roles")).to_contain_text("值班员 · 西关街道")
        await expect(page.locator("#nav")).to_be_visible()
        # The live stream takes the person's token as it takes a key.
        await expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)
        stored = await _stored(page)
        assert stored["local"] == []  # nothing in localStorage, ever
        access = stored["session"]["access"]
        assert (await _me(stack, access)).json()["person"]["id"] == login

        # A reload stays signed in (the tab's sessionStorage); signing out ends the session at the server.
        await page.reload()
        await expect(page.locator("#who .who-name")).to_have_text("廖志静")
        await page.click("#sign-out")
        await expect(page.locator("#sign-in")).to_be_visible()
        await expect(page.locator("#nav")).to_be_hidden()
        assert (await _stored(page))["session"] is None

        answer = await _me(stack, access)
        assert answer.status_code == 401 and answer.json()["type"].endswith("/token_revoked")
        assert errors == []
    finally:
        await page.context.close()


async def test_a_locked_account_says_how_long_to_wait(browser: Browser, stack: ConsoleStack) -> None:
    login = await _person(stack, "姜东", [("duty_officer", f"unit:{STREET}")])
    page, errors = await _page(browser)
    try:
        for _ in range(3):  # the stack locks after 3 failures in a row
            await _sign_in(page, stack, login, "wrong-password")
            await expect(page.locator("#sign-in .problem")).to_be_visible()
        await _sign_in(page, stack, login)  # the right password, too late
        problem = page.locator("#sign-in .problem")
        await expect(problem).to_contain_text("账号已暂时锁定")
        await expect(problem).to_contain_text(re.compile(r"请 \d+ 分( \d+ 秒)?(钟)?后再试|请 \d+ 秒后再试"))
        await expect(page.locator("#nav")).to_be_hidden()
        assert errors == []
    finally:
        await page.context.close()


async def test_single_sign_on_hands_over_in_the_fragment_which_then_leaves_the_address_bar(
    browser: Browser, stack: ConsoleStack
) -> None:
    login = await _person(stack, "曹欣秀", [("duty_officer", "unit:610199004001")])
    tokens = await asyncio.to_thread(stack.sign_in, login, PASSWORD)  # what the callback would hand over
    page, errors = await _page(browser)
    try:
        fragment = (
            f"#signed_in&access_token={tokens['access_token']}&refresh_token={tokens['refresh_token']}"
            f"&expires_in={tokens['expires_in']}"
        )
        await page.goto(stack.console_url + fragment)
        await expect(page.locator("#who .who-name")).to_have_text("曹欣秀")
        assert "access_token" not in page.url and "refresh_token" not in page.url
        # A failed one says why on the sign-in page, and leaves no trace in the address bar either.
        failed, failed_errors = await _page(browser)
        try:
            await failed.goto(stack.console_url + "#sign_in_error=unknown_person")
            await expect(failed.locator("#sign-in-message .problem")).to_contain_text("本系统中没有您的账号")
            assert "sign_in_error" not in failed.url
        finally:
            await failed.context.close()
        assert errors == [] and failed_errors == []
    finally:
        await page.context.close()


async def test_the_access_token_is_refreshed_before_it_expires(browser: Browser, stack: ConsoleStack) -> None:
    login = await _person(stack, "郭雪", [("grid_head", f"unit:{GRID}")])
    page, errors = await _page(browser)
    try:
        await _sign_in(page, stack, login)
        await expect(page.locator("#who .who-name")).to_have_text("郭雪")
        first = (await _stored(page))["session"]
        # Scheduled a few seconds before the 30 s are up; the old refresh token is then spent.
        await page.wait_for_function(
            "old => (JSON.parse(sessionStorage.getItem('griddispatch.console.session') || '{}').access || old) !== old",
            arg=first["access"],
            timeout=(ACCESS_SECONDS + 30) * 1000,
        )
        await page.click("nav >> text=案件列表")
        await expect(page.locator("#case-table tbody tr").first).to_be_visible()
        await expect(page.locator("#who .who-name")).to_have_text("郭雪")

        # Once refreshed, the first refresh token is dead (a replay revokes the session: this checks it last).
        async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
            spent = await http.post("/v1/auth/refresh", json={"refresh_token": first["refresh"]})
        assert spent.status_code == 401
        assert errors == []
    finally:
        await page.context.close()


async def test_two_tabs_of_one_session_refresh_it_once(browser: Browser, stack: ConsoleStack) -> None:
    """A tab opened from another shares its session (sessionStorage is copied): one refresh serves both, or
    the second would spend a spent refresh token and so revoke the session."""
    login = await _person(stack, "姜丽", [("duty_officer", f"unit:{STREET}")])
    page, errors = await _page(browser)
    try:
        await _sign_in(page, stack, login)
        await expect(page.locator("#who .who-name")).to_have_text("姜丽")
        async with page.context.expect_page() as opened:
            await page.evaluate("() => window.open(location.href)")
        second = await opened.value
        await expect(second.locator("#who .who-name")).to_have_text("姜丽")
        first = (await _stored(page))["session"]
        assert (await _stored(second))["session"]["refresh"] == first["refresh"]
        changed = (
            "old => (JSON.parse(sessionStorage.getItem('griddispatch.console.session') || '{}').access || old) !== old"
        )
        for tab in (page, second):
            await tab.wait_for_function(changed, arg=first["access"], timeout=(ACCESS_SECONDS + 30) * 1000)
        one, two = (await _stored(page))["session"], (await _stored(second))["session"]
        assert one["refresh"] == two["refresh"] != first["refresh"]  # one new pair, taken by both tabs
        assert (await _me(stack, one["access"])).status_code == 200  # the session lives on
        for tab in (page, second):
            await tab.click("nav >> text=案件列表")
            await expect(tab.locator("#case-table tbody tr").first).to_be_visible()
            await expect(tab.locator("#who .who-name")).to_have_text("姜丽")
        assert errors == []
    finally:
        await page.context.close()


async def _has_queue(stack: ConsoleStack, tokens: dict[str, Any]) -> bool:
    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:
        answer = await http.get("/v1/me/queue", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return answer.status_code != 404


async def _assigned_case(stack: ConsoleStack, title: str, matter: str) -> str:
    """A new case at the stack's POINT, led by its micro-grid (MICRO_GRID), once dispatch has assigned it."""
    answer = await asyncio.to_thread(stack.submit, title=title, description="请网格员处理", matter_code=matter)
    case_id = str(answer["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    return case_id


async def test_a_grid_worker_acts_as_themselves_and_the_history_names_them(
    browser: Browser, stack: ConsoleStack
) -> None:
    login = await _person(stack, "杨秀敏", [("grid_worker", f"unit:{GRID}")])
    case_id = await _assigned_case(stack, f"楼道堆满纸箱 {uuid.uuid4().hex[:6]}", "corridor_clutter")
    page, errors = await _page(browser)
    try:
        await _sign_in(page, stack, login)
        await expect(page.locator("#who .who-name")).to_have_text("杨秀敏")
        await page.goto(f"{stack.console_url}#/cases/{case_id}")
        await expect(page.locator("#case-state")).to_have_text("已派遣（待签收）")
        await expect(page.locator("#actor-id")).to_have_count(0)  # no operator name to type for a person
        await expect(page.locator("#acting-as")).to_contain_text("杨秀敏（网格员）")
        # The worker holds the grid; the case is led by a micro-grid in it: that is the unit they act for.
        await expect(page.locator("#actor-unit")).to_have_value(f"unit:{MICRO_GRID}")
        await expect(page.locator("#actor-unit option").first).to_have_text("香米园社区邻里格6（主办）")
        note = f"已到现场查看 {uuid.uuid4().hex[:6]}"
        await page.fill("#action-comment textarea[name=text]", note)
        await page.click("#action-comment button[type=submit]")
        await expect(page.locator('#case-notice .applied[data-action="comment"]')).to_contain_text(
            "操作已生效", timeout=LIVE_WAIT_MS
        )
        await expect(page.locator("#timeline")).to_contain_text(note)
        await page.click("#action-accept button[type=submit]")
        await expect(page.locator("#case-state")).to_have_text("已签收", timeout=LIVE_WAIT_MS)
        accepted = page.locator('#timeline li[data-action="accept"] .actor')
        await expect(accepted).to_have_text("杨秀敏 · 主办 · 香米园社区邻里格6")
        case = await asyncio.to_thread(stack.case, case_id)
        step = next(e for e in case["history"] if e["action"] == "accept")
        assert step["actor"] == {"id": login, "name": "杨秀敏", "role": "assignee", "unit": f"unit:{MICRO_GRID}"}
        assert errors == []
    finally:
        await page.context.close()


def _inside(micro_grid: str) -> dict[str, float]:
    """A point inside a micro-grid of the sample district (its cells are simple polygons)."""
    for feature in json.loads((SAMPLE / "units.geojson").read_text())["features"]:
        if feature["properties"]["code"] == micro_grid:
            ring = feature["geometry"]["coordinates"][0][:-1]
            return {"lon": sum(p[0] for p in ring) / len(ring), "lat": sum(p[1] for p in ring) / len(ring)}
    raise AssertionError(f"no micro-grid {micro_grid} in the sample district")


async def test_a_colleague_of_the_unit_claims_the_case(browser: Browser, stack: ConsoleStack) -> None:
    unit = "610199004001001002"  # a micro-grid of its own: the other tests' workers answer for MICRO_GRID
    worker = await _person(stack, "崔晨", [("grid_worker", f"unit:{unit}")])  # the one a new case goes to
    head = await _person(stack, "崔晨丽", [("micro_grid_head", f"unit:{unit}")])
    report = {
        "title": f"小区垃圾没人清运 {uuid.uuid4().hex[:6]}",
        "description": "垃圾桶满溢",
        "location": _inside(unit),
    }
    answer = await asyncio.to_thread(lambda: stack.submit(matter_code="sanitation", **report))
    case_id = str(answer["case_id"])
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    assert case["assignment"]["lead"] == f"unit:{unit}" and case["responsible"]["lead"] == worker
    page, errors = await _page(browser)
    try:
        await _sign_in(page, stack, head)
        await page.goto(f"{stack.console_url}#/cases/{case_id}")
        await expect(page.locator("#responsible")).to_have_text("崔晨")  # named, the id kept as data-person
        await expect(page.locator("#responsible")).to_have_attribute("data-person", worker)
        await page.click("#action-claim button[type=submit]")
        await expect(page.locator('#case-notice .applied[data-action="claim"]')).to_contain_text(
            "操作已生效", timeout=LIVE_WAIT_MS
        )
        await expect(page.locator("#responsible")).to_have_text("我")
        claimed = page.locator('#timeline li[data-action="claim"]')
        await expect(claimed.locator(".actor")).to_contain_text("崔晨丽")
        await expect(claimed).to_contain_text(f"责任人：{worker} → {head}")
        await expect(page.locator("#action-claim")).to_have_count(0)  # nothing left to claim
        case = await asyncio.to_thread(stack.case, case_id)
        assert case["responsible"]["lead"] == head
        assert errors == []
    finally:
        await page.context.close()


async def test_a_grid_worker_sees_their_case_in_my_queue_on_a_phone(browser: Browser, stack: ConsoleStack) -> None:
    login = await _person(stack, "萧琳国", [("grid_worker", f"unit:{MICRO_GRID}")])
    if not await _has_queue(stack, await asyncio.to_thread(stack.sign_in, login, PASSWORD)):
        pytest.skip("GET /v1/me/queue is not on this branch (issue 15, personal assignment)")
    title = f"楼道堆放杂物 {uuid.uuid4().hex[:6]}"
    case_id = await _assigned_case(stack, title, "sanitation")
    # On a phone: the queue is a single column of cards, nothing wider than the screen.
    page, errors = await _page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        await _sign_in(page, stack, login)
        await expect(page.locator("#who .who-name")).to_have_text("萧琳国")
        await expect(page).to_have_url(re.compile(r"#/queue$"))
        item = page.locator(f'#queue li.queue-item[data-case-id="{case_id}"]')
        await expect(item).to_be_visible(timeout=LIVE_WAIT_MS)
        await expect(item).to_contain_text(title)
        await expect(item).to_have_attribute("data-warning", "blue")
        await expect(item).to_contain_text("签收时限")
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390
        box = await item.bounding_box()
        assert box is not None and box["width"] > 300

        await item.locator("a").click()
        await expect(page.locator("#case-state")).to_have_text("已派遣（待签收）")
        await expect(page.locator("#actor-unit")).to_have_value(f"unit:{MICRO_GRID}")

        # 本单位待办: the unit's open cases, this one among them while it is open.
        await page.goto(f"{stack.console_url}#/queue/unit")
        await expect(page.locator(f'#queue[data-queue="unit"] li[data-case-id="{case_id}"]')).to_be_visible()
        # Micro-grids have no outlines to draw: a worker holding only micro-grids is offered no map.
        await expect(page.locator('#nav a[data-nav="map"]')).to_be_hidden()
        await page.goto(f"{stack.console_url}#/map")
        await expect(page).to_have_url(re.compile(r"#/queue$"))
        assert errors == []
    finally:
        await page.context.close()


async def test_a_duty_officer_sees_the_units_of_the_area_with_nobody_on_duty(
    browser: Browser, stack: ConsoleStack
) -> None:
    community = "610199002001"  # no roster in the sample district: nobody is on duty there, nor in its grids
    officer = await _person(stack, "卫值班", [("duty_officer", f"unit:{community}")])
    page, errors = await _page(browser)
    try:
        await _sign_in(page, stack, officer)
        await expect(page.locator("#who .who-name")).to_have_text("卫值班")
        await page.goto(f"{stack.console_url}#/queue/unit")
        flagged = page.locator("#uncovered")
        await expect(flagged).to_contain_text("无人值班", timeout=LIVE_WAIT_MS)
        listed = flagged.locator(f'li[data-unit="unit:{community}"]')
        await expect(listed).to_have_attribute("data-why", "nobody")  # no head role exists for a community
        assert int(await flagged.get_attribute("data-count") or 0) >= 2  # the community and its grids
        await expect(flagged.locator('li[data-why="head"]').first).to_contain_text("负责人")  # a grid's head
        assert errors == []
    finally:
        await page.context.close()
