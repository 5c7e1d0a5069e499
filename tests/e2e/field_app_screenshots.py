"""Screenshots of the field app (/app/) at phone size for docs/field-app/: `python -m tests.e2e.field_app_screenshots`.

Starts a private stack (tests/e2e/console_stack.py) on the running Kafka and PostgreSQL with the sample district,
adds a grid worker of three micro-grids, submits a few cases there and back-dates two of them in the stack's own
database (received time and deadlines moved earlier together, so the warning colours show without waiting hours;
no escalation worker runs, so nothing fires), then takes the sign-in page, the queue, a case, the report form with
its grid resolved from a mocked position, and a report waiting offline, in headless Chromium (a Pixel 7's width).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from playwright.async_api import Page, async_playwright

from shared.settings import PROJECT_ROOT
from tests.e2e.console_stack import SAMPLE, ConsoleStack, console_stack

OUT = PROJECT_ROOT / "docs" / "field-app"
PASSWORD = "Xiguan-Grid-2026!"
CHROMIUM = "/usr/bin/chromium"
UNITS = ["610199004001001006", "610199004001001002", "610199004001002001"]
# (micro-grid, matter, title, back-date in hours: 0 blue, past half the accept allowance yellow, past it red)
REPORTS: list[tuple[str, str, str, float]] = [
    ("610199004001001006", "corridor_clutter", "3号楼2单元楼道堆满纸箱", 0),
    ("610199004001001002", "waste_sorting", "垃圾桶满溢两天没人清运", 1.5),
    ("610199004001002001", "non_motor_parking", "电动车乱停堵住单元门", 3),
    ("610199004001001002", "stairwell_lighting", "5号楼楼道声控灯不亮", 0),
]


def centroid(code: str) -> dict[str, float]:
    for f in json.loads((SAMPLE / "units.geojson").read_text())["features"]:
        if f["properties"]["code"] == code:
            ring = f["geometry"]["coordinates"][0][:-1]
            return {"lon": sum(p[0] for p in ring) / len(ring), "lat": sum(p[1] for p in ring) / len(ring)}
    raise KeyError(code)


def seed(stack: ConsoleStack) -> list[tuple[str, float]]:
    ids = []
    for unit, matter, title, hours in REPORTS:
        answer = stack.submit(
            title=title, description="居民反映，请网格员处理", matter_code=matter, location=centroid(unit)
        )
        ids.append((str(answer["case_id"]), hours))
    for case_id, _ in ids:
        stack.wait_case(case_id, lambda c: c["state"] == "assigned")
    return ids


async def backdate(stack: ConsoleStack, ids: list[tuple[str, float]]) -> None:
    conn = await asyncpg.connect(stack.db_url)
    try:
        for case_id, hours in ids:
            if not hours:
                continue
            shift, key = timedelta(hours=hours), uuid.UUID(case_id)
            async with conn.transaction():
                await conn.execute(
                    """UPDATE cases SET received_at = received_at - $2::interval, accept_by = accept_by - $2::interval,
                              resolve_by = resolve_by - $2::interval WHERE case_id = $1""",
                    key,
                    shift,
                )
                await conn.execute(
                    """UPDATE deadlines SET starts_at = starts_at - $2::interval, due_at = due_at - $2::interval,
                              next_fire_at = next_fire_at - $2::interval,
                              warn_times = ARRAY(SELECT w - $2::interval FROM unnest(warn_times) AS w)
                       WHERE case_id = $1""",
                    key,
                    shift,
                )
                await conn.execute("UPDATE case_events SET at = at - $2::interval WHERE case_id = $1", key, shift)
    finally:
        await conn.close()


async def shoot(stack: ConsoleStack, login: str, first_case: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    app = f"{stack.intake_url}/app/"
    shots: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--lang=zh-CN"], env={**os.environ, "LANG": "zh_CN.UTF-8"}
        )
        try:
            device: dict[str, Any] = {
                k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"
            }
            device["device_scale_factor"] = 2
            here = centroid(UNITS[0])
            context = await browser.new_context(
                **device,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                geolocation={"longitude": here["lon"], "latitude": here["lat"], "accuracy": 12},
                permissions=["geolocation"],
            )
            page = await context.new_page()
            await page.goto(app)
            await page.fill("#login", login)
            shots.append(await _shot(page, out / "sign-in.png"))
            await page.fill("#password", PASSWORD)
            await page.click("#sign-in button[type=submit]")
            await page.wait_for_selector("#queue li[data-case-id]")
            await page.wait_for_selector('#live[data-state="live"]', timeout=90_000)
            shots.append(await _shot(page, out / "queue.png", full_page=True))

            await page.goto(f"{app}#/case/{first_case}")
            await page.wait_for_selector("#spot-map")
            shots.append(await _shot(page, out / "case.png"))

            await page.goto(f"{app}#/report")
            await page.wait_for_selector('#place[data-located="true"]')
            await page.select_option("#matter", "flyposting")
            await page.fill("#report-text", "小区围墙上贴满小广告")
            shots.append(await _shot(page, out / "report.png"))

            await page.evaluate("() => navigator.serviceWorker.ready")
            await context.set_offline(True)
            await page.click("#send-report")
            await page.click('#tabs a[data-tab="outbox"]')
            await page.wait_for_selector('#outbox li[data-status="pending"]')
            shots.append(await _shot(page, out / "outbox-offline.png"))
            await context.set_offline(False)
            await page.wait_for_selector('#outbox li[data-status="sent"]', timeout=90_000)
            await context.close()
        finally:
            await browser.close()
    return shots


async def _shot(page: Page, path: Path, *, full_page: bool = False) -> Path:
    await page.wait_for_timeout(400)
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--port", type=int, default=18450, help="first of four ports (intake, dispatch, -, notify)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="field-app-shots-") as workdir,
        console_stack(Path(workdir), args.port) as stack,
    ):
        login = stack.add_person(
            "萧琳国", PASSWORD, [("grid_worker", f"unit:{u}") for u in UNITS], username="xiao.linguo"
        )
        ids = seed(stack)
        asyncio.run(backdate(stack, ids))
        for path in asyncio.run(shoot(stack, login, ids[0][0], args.out)):
            print(path)


if __name__ == "__main__":
    main()
