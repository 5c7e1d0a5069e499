"""The residents' page in a real headless Chromium with phone emulation (Playwright), against intake, dispatch and
notify running as processes on the real Kafka and PostgreSQL: the look-up and the rating form of the SMS's link.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.resident_links import link_key, mint
from shared.settings import LocalInfraSettings, ResidentSettings
from tests.e2e.console_stack import STREET, ConsoleStack, console_stack

pytestmark = pytest.mark.timeout(600)  # the module's stack starts in the first test; dispatch on a loaded machine

CHROMIUM = Path("/usr/bin/chromium")
PHONE = "13912348765"
PHONES = [{"width": 360, "height": 740}, {"width": 430, "height": 932}]  # the narrowest and widest phones served


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("resident"), 18430) as running:  # 18430-18433: this module's own
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


def _verified_case(stack: ConsoleStack) -> dict[str, Any]:
    """A case reported from PHONE, handled with a progress note and verified: waiting for the resident's rating."""
    title = f"楼道堆满杂物 {uuid.uuid4().hex[:4]}"
    answer = stack.submit(title=title, description="楼道里堆满纸箱", reporter={"name": "周先生", "phone": PHONE})
    case_id = str(answer["case_id"])
    case = stack.wait_case(case_id, lambda c: c["state"] == "assigned", who="hotline")
    lead = case["assignment"]["lead"]
    stack.act("hotline", case_id, "accept", actor={"id": "w1", "unit": lead})
    stack.wait_case(case_id, lambda c: c["state"] == "accepted", who="hotline")
    stack.act("hotline", case_id, "start", actor={"id": "w1", "unit": lead})
    stack.wait_case(case_id, lambda c: c["state"] == "in_progress", who="hotline")
    stack.act("hotline", case_id, "progress", actor={"id": "w1", "unit": lead}, text="已通知物业清理")
    for party in case["assignment"]["assisting"]:
        stack.act("hotline", case_id, "report_in", actor={"id": "s", "unit": party}, text="已配合")
    stack.wait_case(case_id, lambda c: not c["progress"]["owing"], who="hotline")
    stack.act("hotline", case_id, "resolve", actor={"id": "w1", "unit": lead}, text="纸箱已清走")
    stack.wait_case(case_id, lambda c: c["state"] == "resolved", who="hotline")
    stack.act("street", case_id, "verify", actor={"id": "c", "unit": f"unit:{STREET}"}, passed=True)
    return stack.wait_case(case_id, lambda c: c["state"] == "verified", who="hotline")


async def _link_token(stack: ConsoleStack, case_id: str, life: timedelta = timedelta(days=7)) -> str:
    """A rating link as notify signs it for the SMS (this stack has no SMS gateway), with the stack's own key."""
    conn = await asyncpg.connect(stack.db_url)
    try:
        key = await link_key(conn, ResidentSettings())
    finally:
        await conn.close()
    now = datetime.now(UTC)
    return mint(key, uuid.UUID(case_id), now + life, now - timedelta(days=8))


@pytest.fixture(scope="module")
async def verified(stack: ConsoleStack) -> dict[str, Any]:
    return await asyncio.to_thread(_verified_case, stack)


async def _phone(browser: Browser, size: dict[str, int]) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport=size, locale="zh-CN", is_mobile=True, has_touch=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def _fits(page: Page, width: int) -> None:
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scrolling
    for button in await page.locator("button:visible").all():
        box = await button.bounding_box()
        assert box is not None and box["height"] >= 48  # a thumb's target


@pytest.mark.parametrize("size", PHONES, ids=["360px", "430px"])
async def test_a_resident_looks_their_case_up_on_a_phone(
    browser: Browser, stack: ConsoleStack, verified: dict[str, Any], size: dict[str, int]
) -> None:
    page, errors = await _phone(browser, size)
    try:
        await page.goto(f"{stack.intake_url}/resident/")
        await expect(page.locator("h1")).to_have_text("我的诉求办理进度")
        await _fits(page, size["width"])
        await page.fill("#case-number", verified["case_number"])
        await page.fill("#phone-last4", "0000")
        await page.tap("#lookup-button")
        await expect(page.locator("#lookup-error")).to_have_text("未找到该案件，请核对案件编号和手机号后四位。")
        await expect(page.locator("#progress")).to_be_hidden()
        await page.fill("#phone-last4", PHONE[-4:])
        await page.tap("#lookup-button")
        await expect(page.locator("#p-state")).to_have_text("已办结并经核查，请您评价")
        await expect(page.locator("#lookup-error")).to_be_hidden()
        await expect(page.locator("#p-number")).to_have_text(verified["case_number"])
        await expect(page.locator("#p-rate")).to_be_visible()
        steps = page.locator("#p-steps li")
        await expect(steps).to_have_count(4)  # accepted, the progress note, resolved, verified
        await expect(steps.nth(1)).to_contain_text("处置进展：已通知物业清理")
        await expect(steps.nth(3)).to_contain_text("已核查通过")
        await expect(page.locator("#p-unit")).not_to_have_text("—")
        await _fits(page, size["width"])
        assert PHONE not in await page.content()
        assert errors == []
    finally:
        await page.context.close()


async def test_a_resident_rates_through_the_link_once(
    browser: Browser, stack: ConsoleStack, verified: dict[str, Any]
) -> None:
    token = await _link_token(stack, verified["case_id"])
    page, errors = await _phone(browser, PHONES[0])
    try:
        await page.goto(f"{stack.intake_url}/resident/rate/#t={token}")
        await expect(page.locator("#r-number")).to_have_text(verified["case_number"])
        assert token not in page.url  # the token leaves the address bar (and any screenshot or shared URL)
        await _fits(page, PHONES[0]["width"])
        await page.tap("#rate-button")
        await expect(page.locator("#rate-error")).to_have_text("请选择满意、基本满意或不满意。")
        await page.get_by_role("radio", name="基本满意", exact=True).tap()
        await page.fill("#comment", "清理得挺快")
        await page.tap("#rate-button")
        await expect(page.locator("#thanks-text")).to_have_text("感谢您的评价")
        closed = await asyncio.to_thread(
            stack.wait_case, verified["case_id"], lambda c: c["state"] == "closed", 180, "hotline"
        )
        rating = next(h for h in closed["history"] if h["action"] == "rate_satisfied")
        assert rating["detail"]["level"] == "basically_satisfied" and rating["detail"]["text"] == "清理得挺快"
        again, _ = await _phone(browser, PHONES[0])
        try:
            await again.goto(f"{stack.intake_url}/resident/rate/#t={token}")
            await expect(again.locator("#rate-error")).to_have_text("该评价链接已使用过，感谢您的评价。")
            await expect(again.locator("#rate")).to_be_hidden()
        finally:
            await again.context.close()
        assert errors == []
    finally:
        await page.context.close()


async def test_an_expired_or_broken_link_says_so(
    browser: Browser, stack: ConsoleStack, verified: dict[str, Any]
) -> None:
    expired = await _link_token(stack, verified["case_id"], life=-timedelta(seconds=1))
    page, _ = await _phone(browser, PHONES[1])
    try:
        await page.goto(f"{stack.intake_url}/resident/rate/#t={expired}")
        await expect(page.locator("#rate-error")).to_have_text("评价链接已过期。如需评价，请拨打 12345 热线。")
        await page.goto("about:blank")  # a new document: a change of the fragment alone loads nothing
        await page.goto(f"{stack.intake_url}/resident/rate/#t=not-a-real-token-at-all")
        await expect(page.locator("#rate-error")).to_have_text("评价链接无效，请核对短信中的链接。")
        await page.goto("about:blank")
        await page.goto(f"{stack.intake_url}/resident/rate/")
        await expect(page.locator("#rate-error")).to_have_text("评价链接不完整，请从短信中的链接打开。")
    finally:
        await page.context.close()
