"""axe-core on every page a person opens, in headless Chromium against a real stack (intake, dispatch, notify on the
real Kafka and PostgreSQL): the console's sign-in and each of its pages at 1920x1080 (a case page too), the field
app's sign-in and the residents' look-up at phone size. Each must have no serious or critical violation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.settings import LocalInfraSettings
from tests.e2e.axe import serious_violations
from tests.e2e.console_stack import ConsoleStack, console_stack, sign_in_with_key

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
CONSOLE_PAGES = ["#/map", "#/cases", "#/desk", "#/stats", "#/assessment", "#/wall"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("a11y"), 18490) as running:  # ports 18490-18494
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


def readable(violations: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['id']} ({v['impact']}): {v['nodes']}" for v in violations)


async def settled(page: Page, heading: str) -> None:
    """The page's own heading is drawn and nothing is loading any more."""
    await expect(page.locator(heading).first).to_be_visible()
    await page.wait_for_load_state("networkidle")


async def test_the_console_sign_in_and_every_page_have_no_serious_violation(
    browser: Browser, stack: ConsoleStack
) -> None:
    case = await asyncio.to_thread(stack.submit, title="路灯不亮", description="小区门口的路灯坏了")
    case_id = str(case["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    context = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN", bypass_csp=True)
    page = await context.new_page()
    found: dict[str, str] = {}
    try:
        await page.goto(stack.console_url)
        await settled(page, "#key-option summary")
        if violations := await serious_violations(page):
            found["sign-in"] = readable(violations)
        await sign_in_with_key(page, stack.console_url, stack.keys["district"])
        await expect(page.locator("#who .who-name")).to_be_visible()
        for hash_ in [*CONSOLE_PAGES, f"#/cases/{case_id}"]:
            await page.goto(stack.console_url + hash_)
            await settled(page, "main h2")
            if violations := await serious_violations(page):
                found[hash_] = readable(violations)
    finally:
        await context.close()
    assert found == {}


async def test_the_field_app_and_the_resident_page_have_no_serious_violation_at_phone_size(
    browser: Browser, stack: ConsoleStack
) -> None:
    context = await browser.new_context(**PHONE, locale="zh-CN", bypass_csp=True)  # type: ignore[arg-type]
    page = await context.new_page()
    found: dict[str, str] = {}
    try:
        for path in ("/app/", "/resident/"):
            await page.goto(stack.intake_url + path)
            await settled(page, "h1")
            if violations := await serious_violations(page):
                found[path] = readable(violations)
    finally:
        await context.close()
    assert found == {}
