"""The console's report-up (上报) and consultation (会商) cards in a real browser against the whole local stack: a case
the lead reported up shows what waits and for whom, and a supervisor sends it back with an instruction; a street
convenes a consultation, a department gives its opinion and the street records the outcome, all from the case page
(docs/console.md). Its own stack (ports 18460-18463) and the browser of test_console_browser.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from shared.settings import LocalInfraSettings
from tests.e2e.console_stack import ConsoleStack, console_stack
from tests.e2e.test_console_browser import _accepted, _open, browser

pytestmark = pytest.mark.timeout(600)

__all__ = ["browser"]


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console-reportup"), 18460) as running:
        yield running


@pytest.fixture
async def district(browser: Browser, stack: ConsoleStack) -> AsyncIterator[tuple[Page, list[str]]]:
    page, errors = await _open(browser, stack, "district")
    yield page, errors
    await page.context.close()


async def test_a_supervisor_sends_a_reported_up_case_back_with_an_instruction_from_the_case_page(
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
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "accepted")
    await asyncio.to_thread(
        stack.act, "district", case_id, "report_up", actor=actor, text="线路老化需整体改造，超出本级处置能力"
    )
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["history"][-1]["action"] == "report_up")
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator("#report-up-pending")).to_contain_text("线路老化")
    await expect(page.locator("#report-up-pending")).to_contain_text("前决定")
    await expect(page.locator("#action-report-up")).to_have_count(0)  # the district key is not the lead
    await page.fill("#actor-id", "值班员李明")
    await page.select_option("#action-decide-report-up select[name=decision]", "send_back")
    await page.click("#action-decide-report-up button[type=submit]")
    await expect(page.locator("#action-decide-report-up .problem")).to_contain_text("退回时请填写指示")
    await page.fill("#action-decide-report-up textarea[name=text]", "先联系物业维修，仍不能解决再报")
    await page.click("#action-decide-report-up button[type=submit]")
    await expect(_accepted(page, "decide-report-up")).to_contain_text("已受理（202）")
    case = await asyncio.to_thread(
        stack.wait_case, case_id, lambda c: c["history"][-1]["action"] == "decide_report_up", 60
    )
    assert case["history"][-1]["detail"]["decision"] == "send_back"
    assert case["assignment"]["lead"] == lead
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator("#report-up-pending")).to_have_text("无")
    await expect(page.locator("#report-up-decided")).to_contain_text("先联系物业维修")
    assert errors == []


async def test_a_street_convenes_a_department_answers_and_the_street_records_the_outcome_from_the_case_page(
    browser: Browser, stack: ConsoleStack
) -> None:
    answer = await asyncio.to_thread(stack.submit, title="小区内有人散养烈性犬", matter_code="dog_nuisance")
    case_id = str(answer["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    street, street_errors = await _open(browser, stack, "street")
    department, department_errors = await _open(browser, stack, "city_management")
    try:
        await street.goto(f"{stack.console_url}#/cases/{case_id}")
        await expect(street.locator("#consultation-none")).to_be_visible()
        await street.fill("#actor-id", "值班员李明")
        await street.check('#action-convene input[name=invited][value="department:city_management"]')
        await street.fill("#action-convene textarea[name=text]", "散养烈性犬，需城管会商处置方式")
        await street.click("#action-convene button[type=submit]")
        await expect(_accepted(street, "convene")).to_contain_text("已受理（202）")
        await asyncio.to_thread(stack.wait_case, case_id, lambda c: bool(c["consultation"]), 60)

        await department.goto(f"{stack.console_url}#/cases/{case_id}")
        await expect(department.locator("#consultation-convener")).to_contain_text("西关")
        await department.fill("#actor-id", "城管局张强")
        await department.fill("#action-give-opinion textarea[name=text]", "建议城管中队联合社区上门劝导")
        await department.click("#action-give-opinion button[type=submit]")
        await expect(_accepted(department, "give-opinion")).to_contain_text("已受理（202）")
        await asyncio.to_thread(stack.wait_case, case_id, lambda c: len(c["consultation"]["opinions"]) == 1, 60)

        await street.goto(f"{stack.console_url}#/cases/{case_id}")
        row = street.locator('#consultation-opinions tr[data-party="department:city_management"]')
        await expect(row).to_contain_text("上门劝导")
        await street.fill("#actor-id", "值班员李明")
        await street.select_option("#action-record-outcome select[name=unit]", "department:city_management")
        await street.fill("#action-record-outcome textarea[name=text]", "会商决定：城管局牵头处置")
        await street.click("#action-record-outcome button[type=submit]")
        await expect(_accepted(street, "record-outcome")).to_contain_text("已受理（202）")
        case = await asyncio.to_thread(
            stack.wait_case, case_id, lambda c: c["assignment"]["lead"] == "department:city_management", 60
        )
        assert case["consultation"] == {} and case["state"] == "assigned"
        assert street_errors == [] and department_errors == []
    finally:
        await street.context.close()
        await department.context.close()
