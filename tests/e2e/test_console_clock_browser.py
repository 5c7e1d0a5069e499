"""The console's clock card (延期, 挂起) in a real browser against the whole local stack: a supervisor approves an
extension and a suspension from the case page and resumes the clock (docs/console.md). Uses the console stack and
browser of test_console_browser.py (its fixtures, imported)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.console_stack import ConsoleStack
from tests.e2e.test_console_browser import _accepted, _open, browser, stack

pytestmark = pytest.mark.timeout(600)

__all__ = ["browser", "stack"]


@pytest.fixture
async def district(browser: Browser, stack: ConsoleStack) -> AsyncIterator[tuple[Page, list[str]]]:
    page, errors = await _open(browser, stack, "district")
    yield page, errors
    await page.context.close()


async def test_a_supervisor_approves_an_extension_and_a_suspension_and_resumes_from_the_case_page(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    elsewhere = {"lon": 108.9367465, "lat": 34.2718625}  # micro-grid 610199004002001001
    answer = await asyncio.to_thread(
        stack.submit, title="楼道灯不亮了", matter_code="stairwell_lighting", location=elsewhere
    )
    case_id = str(answer["case_id"])
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    lead = case["assignment"]["lead"]
    actor = {"id": "网格员王芳", "unit": lead}
    await asyncio.to_thread(stack.act, "district", case_id, "accept", actor=actor)
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "accepted")
    resolve_by = (await asyncio.to_thread(_resolve_by, stack, case_id)) + 3600
    await asyncio.to_thread(
        stack.act, "district", case_id, "request_extension", actor=actor, text="需等待配件到货",
        resolve_by=_iso(resolve_by),
    )  # fmt: skip
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: "extension_asked" in c["clock"])
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator("#clock-extension-asked")).to_contain_text("待审批")
    await page.fill("#actor-id", "值班员李明")
    await page.select_option("#action-decide-extension select[name=approved]", "true")
    await page.click("#action-decide-extension button[type=submit]")
    await expect(_accepted(page, "decide-extension")).to_contain_text("已受理（202）")
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["clock"].get("extensions") == 1, 60)
    assert case["history"][-1]["action"] == "decide_extension" and case["history"][-1]["detail"]["approved"]

    await asyncio.to_thread(
        stack.act, "district", case_id, "request_suspension", actor=actor, text="住户外出，无法入户",
        reason_code="waiting_resident",
    )  # fmt: skip
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: "suspension_asked" in c["clock"])
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await page.fill("#actor-id", "值班员李明")
    await page.click("#action-decide-suspension button[type=submit]")
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: "suspended" in c["clock"], 60)
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator("#clock-suspended")).to_contain_text("起挂起")
    await page.fill("#actor-id", "值班员李明")
    await page.fill("#action-resume textarea[name=text]", "住户已返回")
    await page.click("#action-resume button[type=submit]")
    case = await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["history"][-1]["action"] == "resume", 60)
    assert "suspended" not in case["clock"] and case["deadlines"]["resolve_by"] is not None
    assert errors == []


def _resolve_by(stack: ConsoleStack, case_id: str) -> float:
    from datetime import datetime

    value = stack.case(case_id)["deadlines"]["resolve_by"]
    return datetime.fromisoformat(value).timestamp()


def _iso(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat()
