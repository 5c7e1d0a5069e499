"""A case's photos on the console's case page, in a real headless Chromium, against intake and dispatch running
as processes on the real Kafka and PostgreSQL: uploaded through the API, shown from the served copies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from shared.settings import LocalInfraSettings
from tests import photos
from tests.e2e.console_stack import ConsoleStack, console_stack, sign_in_with_key

pytestmark = pytest.mark.timeout(600)  # a cold faust worker on a loaded machine counts against the first test

CHROMIUM = Path("/usr/bin/chromium")
BASE_PORT = 18400  # this module's own ports (18400-18403)


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    workdir = tmp_path_factory.mktemp("console-photos")
    extra = {"GRIDDISPATCH_STORAGE_BACKEND": "local", "GRIDDISPATCH_STORAGE_DIR": str(workdir / "attachments")}
    with console_stack(workdir, BASE_PORT, services=("dispatch", "intake"), extra_env=extra) as running:
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


def _report_with_photo(stack: ConsoleStack) -> tuple[str, dict[str, Any]]:
    with stack.client("hotline") as http:
        uploaded = http.post(
            "/v1/attachments",
            files={"file": ("现场.jpg", photos.jpeg(800, 600, gps=photos.XIANGMIYUAN), "image/jpeg")},
            data={"role": "before"},
        )
        assert uploaded.status_code == 201, uploaded.text
    photo: dict[str, Any] = uploaded.json()
    answer = stack.submit("hotline", title="路口井盖丢失（有照片）", attachment_ids=[photo["id"]])
    stack.wait_case(answer["case_id"], lambda c: c["state"] == "assigned")
    return str(answer["case_id"]), photo


async def test_the_case_page_shows_its_photos(browser: Browser, stack: ConsoleStack) -> None:
    case_id, photo = await asyncio.to_thread(_report_with_photo, stack)
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in_with_key(page, stack.console_url, stack.keys["district"])
        await page.goto(f"{stack.console_url}#/cases/{case_id}")
        figure = page.locator(f'#case-photos figure[data-attachment-id="{photo["id"]}"]')
        await expect(figure).to_be_visible()
        await expect(figure.locator("figcaption")).to_contain_text("处置前")
        await expect(figure.locator("figcaption")).to_contain_text("拍摄位置 108.93520, 34.27210")
        thumbnail = figure.locator("img")
        await expect(thumbnail).to_have_attribute("src", re.compile(r"^blob:"))  # fetched with the reader's token
        assert await thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth)") == 320
        await figure.locator("button").click()
        full = page.locator(".photo-full img")
        assert await full.evaluate("img => img.decode().then(() => img.naturalWidth)") == 800
        await page.locator(".photo-full").click()
        await expect(page.locator(".photo-full")).to_have_count(0)
        assert errors == []
    finally:
        await context.close()

    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as http:  # an <img src> would carry no token
        assert (await http.get(photo["url"])).status_code == 401
