"""The command-centre console in a real headless Chromium (Debian's, driven by Playwright) against intake,
dispatch and notify running as processes on the real Kafka and PostgreSQL with the sample district.
"""

from __future__ import annotations

import asyncio
import re
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from shared.settings import LocalInfraSettings
from tests.e2e.console_stack import STREET, ConsoleStack, console_stack, sign_in_with_key

# The waits are sized for a loaded machine (a cold faust worker: up to 180 s), and starting the module's
# stack counts against the first test's limit: 600 s here, not the suite's 300.
pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (deploy/local/install-system-deps.sh installs it)
GRID = "610199004001001"  # holds the stack's POINT (micro-grid 610199004001001006)
OTHER_GRID = "610199004001002"
LIVE_WAIT_MS = 90_000  # dispatch on a loaded 2-core machine; the check returns as soon as the page shows it


@pytest.fixture(scope="module")
def stack(local_infra: LocalInfraSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console"), 18380) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "apt-get install chromium (deploy/local/install-system-deps.sh)"
    expect.set_options(timeout=30_000)  # not 5 s: a page on a loaded 2-core machine; a check returns when it holds
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            await chromium.close()


async def _open(browser: Browser, stack: ConsoleStack, who: str) -> tuple[Page, list[str]]:
    """A fresh tab signed in with `who`'s key; also returns the page's script errors."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in_with_key(page, stack.console_url, stack.keys[who])
    await expect(page.locator("#who .who-name")).to_be_visible()
    return page, errors


@pytest.fixture
async def district(browser: Browser, stack: ConsoleStack) -> AsyncIterator[tuple[Page, list[str]]]:
    page, errors = await _open(browser, stack, "district")
    yield page, errors
    await page.context.close()


async def _grid_count(stack: ConsoleStack, who: str, parent_prefix: str = "") -> int:
    def count() -> int:
        with stack.client(who) as http:
            grids = http.get("/v1/units", params={"level": "grid", "limit": 5000}).json()["items"]
        return len([g for g in grids if g["code"].startswith(parent_prefix)])

    return await asyncio.to_thread(count)


# Small matters a micro-grid leads itself (so the map counts them in GRID), one kind per case: the same
# kind at the same place would be merged into the first as a duplicate.
SMALL_MATTERS = iter(
    ["corridor_clutter", "sanitation", "non_motor_parking", "flyposting", "stairwell_lighting", "waste_sorting"]
)


async def _small_case(stack: ConsoleStack, title: str) -> str:
    """A new case in GRID, led by its micro-grid."""
    answer: dict[str, Any] = await asyncio.to_thread(
        stack.submit, title=title, description=f"{title}，请网格员处理", matter_code=next(SMALL_MATTERS)
    )
    return str(answer["case_id"])


async def _case(stack: ConsoleStack, case_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(stack.case, case_id)


async def test_a_wrong_key_is_refused_in_chinese(browser: Browser, stack: ConsoleStack) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in_with_key(page, stack.console_url, "gdk_not-a-key")
        await expect(page.locator("#key-sign-in .problem")).to_contain_text("API 密钥无效")
        await expect(page.locator("#nav")).to_be_hidden()
    finally:
        await context.close()


async def test_the_map_draws_every_grid_of_the_sample_district(
    district: tuple[Page, list[str]], browser: Browser, stack: ConsoleStack
) -> None:
    page, errors = district
    expected = await _grid_count(stack, "district")
    assert expected == 48  # the sample district's registry
    await expect(page.locator("svg.district-map path.grid")).to_have_count(expected)
    await expect(page.locator("svg.district-map path.outline.street")).to_have_count(4)
    await expect(page.locator("#total-grids")).to_have_text(str(expected))
    await expect(page.locator("svg.district-map text.area-name", has_text="北关街道")).to_have_count(1)
    # Every grid has a real outline inside the drawing.
    sizes = await page.eval_on_selector_all(
        "svg.district-map path.grid", "els => els.map(e => { const b = e.getBBox(); return b.width * b.height; })"
    )
    assert len(sizes) == expected and min(sizes) > 100
    # A street centre sees its own area only.
    street, street_errors = await _open(browser, stack, "street")
    try:
        in_street = await _grid_count(stack, "street", STREET)
        assert 0 < in_street < expected
        await expect(street.locator("svg.district-map path.grid")).to_have_count(in_street)
    finally:
        await street.context.close()
    assert errors == [] and street_errors == []


async def test_a_case_submitted_through_the_api_appears_live(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    grid = page.locator(f'svg.district-map path.grid[data-code="{GRID}"]')
    await expect(grid).to_have_attribute("data-open", re.compile(r"^\d+$"))
    before = int(await grid.get_attribute("data-open") or 0)
    await expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    events_before = int(await page.get_attribute("#live-indicator", "data-events") or 0)

    case_id = await _small_case(stack, "楼道堆满纸箱")
    # No reload: the stream's event makes the map count again.
    await expect(grid).to_have_attribute("data-open", str(before + 1), timeout=LIVE_WAIT_MS)
    await expect(grid).to_have_class(re.compile(r"\bfill-open[123]\b"))
    assert int(await page.get_attribute("#live-indicator", "data-events") or 0) > events_before  # by the stream

    # The grid's panel lists it; the case list shows it, and a newer one arrives while the list is open.
    await grid.click()
    await expect(page.locator("#grid-detail")).to_contain_text(f"在办 {before + 1} 件")
    await expect(page.locator(f'#grid-detail a[href="#/cases/{case_id}"]')).to_be_visible()
    # the panel lists what the grid counts (its newest 20), and the area's totals say who leads what
    listed = page.locator('#grid-detail ol.grid-cases a[href^="#/cases/"]')
    await expect(listed).to_have_count(min(before + 1, 20))
    await expect(page.locator("#map-leads")).to_contain_text("件现由上级主办")
    assert int(await page.text_content("#total-open") or 0) >= before + 1
    # the overdue layer colours by overdue cases only: a grid without any is not red, nor blue
    await page.check('#map-layer input[value="overdue"]')
    overdue = int(await grid.get_attribute("data-overdue") or 0)
    await expect(grid).to_have_class(re.compile(r"\bfill-overdue[12]\b" if overdue else r"\bfill-none\b"))
    await page.check('#map-layer input[value="open"]')
    await expect(grid).to_have_class(re.compile(r"\bfill-(open[123]|overdue[12])\b"))
    await page.click("nav >> text=案件列表")
    await expect(page.locator(f'#case-table tr[data-case-id="{case_id}"]')).to_be_visible()
    second = await _small_case(stack, "楼道口堆放杂物")
    await expect(page.locator(f'#case-table tr[data-case-id="{second}"]')).to_be_visible(timeout=LIVE_WAIT_MS)
    assert errors == []


def _accepted(page: Page, action: str) -> Locator:
    """The 202 line of an action: beside its form, and above the case once dispatch has applied it."""
    return page.locator(f'#action-{action} .accepted, #case-notice .accepted[data-action="{action}"]').first


async def _case_page(page: Page, stack: ConsoleStack, case_id: str) -> None:
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    await page.goto(f"{stack.console_url}#/cases/{case_id}")
    await expect(page.locator("#case-state")).to_have_text("已派遣（待签收）")
    await page.fill("#actor-id", "值班员李明")


async def test_actions_from_the_console_reach_the_case(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    case_id = await _small_case(stack, "楼梯间堆放旧家具")
    await _case_page(page, stack, case_id)
    await expect(page.locator("#routing-trace")).to_contain_text("坐标位于微网格「")  # in Chinese, with the name
    await expect(page.locator("#deadlines tbody tr").first).to_have_attribute("data-warning", "blue")

    note = f"已电话联系物业，今天下午清理 {uuid.uuid4().hex[:6]}"
    await page.fill("#action-comment textarea[name=text]", note)
    await page.click("#action-comment button[type=submit]")
    await expect(_accepted(page, "comment")).to_contain_text("已受理（202）")
    await expect(page.locator('#case-notice .applied[data-action="comment"]')).to_contain_text(
        "操作已生效", timeout=LIVE_WAIT_MS
    )
    await expect(page.locator("#timeline")).to_contain_text(note)
    case = await _case(stack, case_id)
    comments = [e for e in case["history"] if e["action"] == "comment"]
    assert comments and comments[-1]["detail"]["text"] == note
    assert comments[-1]["actor"]["id"] == "值班员李明"

    await page.select_option("#action-redispatch select[name=unit]", f"unit:{OTHER_GRID}")
    await page.fill("#action-redispatch textarea[name=text]", "原网格人手不足，改派第2网格")
    await page.click("#action-redispatch button[type=submit]")
    await expect(_accepted(page, "redispatch")).to_contain_text("已受理（202）")
    await expect(page.locator('#case-notice .applied[data-action="redispatch"]')).to_contain_text(
        "操作已生效", timeout=LIVE_WAIT_MS
    )
    case = await asyncio.to_thread(
        stack.wait_case, case_id, lambda c: c["assignment"]["lead"] == f"unit:{OTHER_GRID}", 60
    )
    assert case["state"] == "assigned"

    await page.fill("#action-cancel textarea[name=text]", "重复上报，作废")
    await page.check("#action-cancel input[name=confirm]")
    await page.click("#action-cancel button[type=submit]")
    await expect(_accepted(page, "cancel")).to_contain_text("已受理（202）")
    await expect(page.locator("#case-state")).to_have_text("已作废", timeout=LIVE_WAIT_MS)
    assert (await _case(stack, case_id))["state"] == "cancelled"

    # A cancelled case allows nothing: no form is offered (test_console_case_page_browser.py checks the rest).
    await expect(page.locator(".case-actions form.action")).to_have_count(0)
    assert errors == []


async def test_refusals_are_explained(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    case_id = await _small_case(stack, "楼道里堆了很多杂物")
    await _case_page(page, stack, case_id)
    await page.fill("#action-redispatch input[name=unit_text]", "unit:999999")
    await page.fill("#action-redispatch textarea[name=text]", "试试一个不存在的单位")
    await page.click("#action-redispatch button[type=submit]")
    await expect(page.locator("#action-redispatch .problem")).to_contain_text("输入有误")
    assert (await _case(stack, case_id))["assignment"]["lead"] != "unit:999999"

    # Only what the state allows is offered: no summons before the assignee accepts (a district summons for the
    # case's street once it has: test_console_case_page_browser.py).
    await expect(page.locator("#action-summon")).to_have_count(0)

    # Accepted (202), then refused by dispatch: a department summoned twice owes its part already.
    lead = (await _case(stack, case_id))["assignment"]["lead"]
    actor = {"id": "网格员王芳", "unit": lead, "role": "assignee"}
    await asyncio.to_thread(stack.act, "grid_app", case_id, "accept", actor=actor)
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "accepted")
    await page.reload()
    await expect(page.locator("#case-state")).to_have_text("已签收")
    await page.fill("#actor-id", "值班员李明")
    for outcome in ("applied", "problem"):
        await page.check("#action-summon input[name=departments][value=market_supervision]")
        await page.click("#action-summon button[type=submit]")
        await expect(page.locator(f'#case-notice .{outcome}[data-action="summon"]')).to_be_visible(timeout=LIVE_WAIT_MS)
    problem = page.locator('#case-notice .problem[data-action="summon"]')
    await expect(problem).to_contain_text("派遣系统拒绝了此操作")
    await expect(problem).to_contain_text("仍为“已签收”")
    await expect(problem).to_contain_text("原因：所选部门均已在办理本案")  # the reason in Chinese too
    history = (await _case(stack, case_id))["history"]
    assert history[-1]["action"] == "rejected" and history[-1]["detail"]["action"] == "summon"
    assert errors == []


async def test_the_statistics_page_and_its_monthly_csv(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    await _small_case(stack, "楼道堆放自行车")
    await page.goto(f"{stack.console_url}#/stats")
    await expect(page.locator("table.stats tbody tr").first).to_be_visible()
    await expect(page.locator("table.stats")).to_contain_text("西关街道")
    async with page.expect_download() as download_info:
        await page.click("#download-csv")
    download = await download_info.value
    raw = Path(await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the Chinese
    header = raw[3:].decode("utf-8").splitlines()[0]
    assert "受理量" in header and "满意率" in header
    assert download.suggested_filename.endswith(".csv")
    assert errors == []


async def test_the_assessment_page_sorts_and_gives_its_reports(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    await page.goto(f"{stack.console_url}#/assessment?level=street")
    table = page.locator("table.assessment")
    await expect(table.locator("tbody tr")).to_have_count(4)  # the sample district's streets
    await expect(table).to_contain_text("西关街道")
    await expect(page.locator("#assessment-weights")).to_contain_text("按时办结 0.4")
    names = table.locator("tbody th")
    await page.click("table.assessment button[data-key=name]")  # by name, then the other way round
    await expect(table.locator("th[aria-sort=ascending] button[data-key=name]")).to_be_visible()
    first = await names.first.text_content()
    await page.click("table.assessment button[data-key=name]")
    await expect(table.locator("th[aria-sort=descending] button[data-key=name]")).to_be_visible()
    assert await names.last.text_content() == first
    async with page.expect_download() as download_info:
        await page.click("#assessment-csv")
    raw = Path(await (await download_info.value).path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "得分" in raw[3:].decode("utf-8").splitlines()[0]
    async with page.context.expect_page() as popup_info:
        await page.click("#assessment-print")
    printable = await popup_info.value
    await expect(printable.locator("h1")).to_contain_text("街道考核排名")
    await expect(printable.locator("table.weights")).to_contain_text("错误退单率")
    await printable.close()
    await page.select_option("#assessment-form select[name=level]", "grid_worker")  # the 网格员 ranking
    await page.click("#assessment-form button[type=submit]")
    await expect(page.locator("#assessment-table table.assessment")).to_be_visible()
    assert "level=grid_worker" in page.url
    assert errors == []


async def test_an_urge_from_the_case_page_counts_in_the_assessment(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    elsewhere = {"lon": 108.9367465, "lat": 34.2718625}  # micro-grid 610199004002001001: merges with no other case
    answer = await asyncio.to_thread(
        stack.submit, title="楼道堆放杂物无人清理", matter_code="corridor_clutter", location=elsewhere
    )
    case_id = str(answer["case_id"])
    await _case_page(page, stack, case_id)
    await page.fill("#action-urge textarea[name=text]", "请今天内签收处理")
    await page.click("#action-urge button[type=submit]")
    case = await asyncio.to_thread(
        stack.wait_case,
        case_id,
        lambda c: any(e["detail"].get("reason") == "请今天内签收处理" for e in c["history"] if e["action"] == "urge"),
        60,
    )
    assert case["assignment"]["lead"].startswith(f"unit:{STREET}")

    def street_row() -> dict[str, Any]:
        with stack.client("district") as http:
            body = http.get("/v1/assessment", params={"level": "street"}).json()
        return next(r for r in body["rows"] if r["code"] == STREET)

    row = await asyncio.to_thread(street_row)
    assert row["urged"] >= 1 and row["received"] >= 1
    # a supervision order (督办单) from the same page, listed on it with its state
    await page.select_option("#action-supervise-order select[name=colour]", "red")
    await page.fill("#action-supervise-order textarea[name=text]", "群众反映强烈，限期处理")
    await page.click("#action-supervise-order button[type=submit]")
    await asyncio.to_thread(
        stack.wait_case, case_id, lambda c: any(e["action"] == "supervise_order" for e in c["history"]), 60
    )
    orders = page.locator("#supervision-orders tbody tr")
    await expect(orders).to_have_count(1)
    await expect(orders.first).to_contain_text("红牌督办")
    await expect(orders.first).to_contain_text("待回复")
    assert errors == []


async def test_the_case_list_filters(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    case_id = await _small_case(stack, "楼道里堆了旧沙发")  # a kind of matter no other case here has
    matter = (await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned"))["matter_code"]
    await page.goto(f"{stack.console_url}#/cases")
    await page.select_option("#case-filters select[name=matter]", matter)
    await page.select_option("#case-filters select[name=state]", "open")
    await page.click("#case-filters button[type=submit]")
    await expect(page).to_have_url(re.compile(rf"#/cases\?.*matter={matter}"))
    rows = page.locator("#case-table tbody tr[data-case-id]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-case-id", case_id)
    # Every case here came from the hotline: none from grid workers' apps.
    await page.select_option("#case-filters select[name=source]", "grid_app")
    await page.click("#case-filters button[type=submit]")
    await expect(page.locator("#case-table td.empty")).to_have_text("没有符合条件的案件。")
    assert errors == []


async def test_the_supervision_desk_sorts_filters_and_its_counts_open_their_lists(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    answer = await asyncio.to_thread(
        stack.submit, title="绿化带里种菜", description="小区绿化带被开荒种菜", matter_code="vegetable_plots"
    )
    case_id = str(answer["case_id"])
    await asyncio.to_thread(stack.wait_case, case_id, lambda c: c["state"] == "assigned")
    await page.goto(f"{stack.console_url}#/desk")
    await expect(page.locator("#nav a[data-nav=desk]")).to_have_attribute("aria-current", "page")
    rows = page.locator("#desk-table tbody tr[data-case-id]")
    await expect(rows.first).to_be_visible()
    await expect(page.locator(f"#desk-table tr[data-case-id='{case_id}']")).to_have_count(1)
    # a chip's count is the list it opens
    chip = page.locator("#desk-filters a[data-filter=overdue]")
    count = int((await chip.inner_text()).split()[-1])
    await chip.click()
    await expect(page).to_have_url(re.compile(r"#/desk\?filter=overdue"))
    await expect(page.locator("#desk-filters a[data-filter=overdue]")).to_have_attribute("aria-current", "true")
    await expect(page.locator("#desk-range")).to_contain_text(f"共 {count} 件")
    await expect(page.locator(f"#desk-table tr[data-case-id='{case_id}']")).to_have_count(0)  # not overdue
    # a column sorts the page shown
    await page.goto(f"{stack.console_url}#/desk")
    await page.locator("#desk-table th button.sort", has_text="案件编号").click()
    await expect(page.locator("#desk-table th[aria-sort=ascending]")).to_have_count(1)
    numbers = await page.locator("#desk-table tbody tr[data-case-id] td:first-child").all_inner_texts()
    assert numbers == sorted(numbers)
    assert errors == []


async def test_a_statistic_opens_the_cases_behind_it(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    await asyncio.to_thread(
        stack.submit, title="狗粪没人清理", description="遛狗不牵绳，狗粪满地", matter_code="dog_nuisance"
    )
    await page.goto(f"{stack.console_url}#/stats")
    link = page.locator("table.stats tfoot a[data-fact=received]")
    await expect(link).to_be_visible()
    received = int(await link.inner_text())
    await link.click()
    await expect(page).to_have_url(re.compile(r"#/cases\?.*fact=received"))
    rows = page.locator("#case-table tbody tr[data-case-id]")
    await expect(rows.first).to_be_visible()
    shown = await rows.count()
    assert shown == min(received, 25)  # the first page of exactly those cases
    assert errors == []


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
async def test_the_big_screen_fills_the_wall_live(
    browser: Browser, stack: ConsoleStack, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await sign_in_with_key(page, stack.console_url, stack.keys["district"])
        await expect(page.locator("#who .who-name")).to_be_visible()
        await page.goto(f"{stack.console_url}#/wall")
        await expect(page.locator("#wall[data-loaded-at]")).to_have_count(1)
        await expect(page.locator("header.top")).to_be_hidden()  # the wall is the whole screen
        for chart in ("sources", "streets", "hotspots", "days", "months"):
            await expect(page.locator(f"#chart-{chart} canvas").first).to_be_visible()
        await expect(page.locator("#rank-streets tbody tr").first).to_be_visible()
        loaded = await page.locator("#wall").get_attribute("data-loaded-at")
        before = int(await page.locator("#kpi-today .wall-kpi-value").inner_text())
        await asyncio.to_thread(stack.submit, title="路面塌陷", description="人行道塌了个坑", matter_code="road_damage")
        await expect(page.locator("#wall")).not_to_have_attribute("data-loaded-at", loaded or "", timeout=LIVE_WAIT_MS)
        await expect(page.locator("#kpi-today .wall-kpi-value")).not_to_have_text(str(before), timeout=LIVE_WAIT_MS)
        # it fits the screen, and its type grows with it
        fits = await page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
        assert fits
        size = await page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('#kpi-today .wall-kpi-value')).fontSize)"
        )
        assert abs(size - 40 * height / 1080) < 1.5
        assert errors == []
    finally:
        await context.close()


async def test_the_statistics_chart_and_sortable_columns(district: tuple[Page, list[str]], stack: ConsoleStack) -> None:
    page, errors = district
    await page.goto(f"{stack.console_url}#/stats")
    await expect(page.locator("#stats-chart canvas").first).to_be_visible()
    await page.locator("table.stats thead button.sort", has_text="受理量").click()  # most first
    await expect(page.locator("table.stats th[aria-sort=descending]")).to_have_count(1)
    received = [int(t) for t in await page.locator("table.stats tbody a[data-fact=received]").all_inner_texts()]
    assert received == sorted(received, reverse=True) and received
    await page.locator("table.stats thead button.sort", has_text="受理量").click()
    await expect(page.locator("table.stats th[aria-sort=ascending]")).to_have_count(1)
    received = [int(t) for t in await page.locator("table.stats tbody a[data-fact=received]").all_inner_texts()]
    assert received == sorted(received)
    assert errors == []


def _tile_png() -> bytes:
    """A 256x256 grey PNG: the tile the stand-in tile server answers for every tile the slippy map asks."""
    raw = b"".join(b"\x00" + b"\xc8" * 256 for _ in range(256))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


TILE = _tile_png()


async def test_with_a_tile_layer_the_map_is_a_slippy_map_with_the_same_grids(
    district: tuple[Page, list[str]], stack: ConsoleStack
) -> None:
    page, errors = district
    asked: list[str] = []

    async def tiles(route: Any) -> None:
        asked.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=TILE)

    async def config(route: Any) -> None:  # as intake answers with GRIDDISPATCH_INTAKE_CONSOLE_TILES_URL set
        answer = await route.fetch()
        body = await answer.json()
        body["tiles"] = {"url": "http://tiles.test/{z}/{x}/{y}.png", "attribution": "测试底图", "subdomains": "",
                         "crs": "gcj02", "max_zoom": 18}  # fmt: skip
        await route.fulfill(response=answer, json=body)

    await page.route("http://tiles.test/**", tiles)
    await page.route("**/console/config.json", config)
    await page.goto(f"{stack.console_url}?tiles#/map")  # a fresh load: config.json is read at start
    await expect(page.locator("#slippy-map")).to_be_visible()
    await expect(page.locator("#slippy-map img.leaflet-tile-loaded").first).to_be_visible()
    assert asked and all(re.match(r"http://tiles\.test/\d+/\d+/\d+\.png$", url) for url in asked)
    expected = await _grid_count(stack, "district")
    await expect(page.locator("#slippy-map path.grid")).to_have_count(expected)
    await expect(page.locator("#slippy-map .leaflet-control-attribution")).to_contain_text("测试底图")
    await page.locator(f"#slippy-map path.grid[data-code='{GRID}']").click()
    await expect(page.locator("#grid-detail h3")).to_be_visible()
    await expect(page.locator("#grid-detail")).to_contain_text(GRID)
    # the shapes are shifted to GCJ-02 for such tiles (eviltransform's reference point)
    shifted = await page.evaluate("import('./geo.js').then((m) => m.wgs84ToGcj02([116.404, 39.915]))")
    assert abs(shifted[0] - 116.41024449916938) < 1e-6 and abs(shifted[1] - 39.91640428150164) < 1e-6
    assert errors == []
