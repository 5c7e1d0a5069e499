"""Screenshots of the console's main pages for docs/console/: `python -m tests.e2e.console_screenshots`
(with `--people`: the sign-in page and a grid worker's queue on a phone, for docs/people/).

Starts a private stack (tests/e2e/console_stack.py) on the running Kafka and PostgreSQL with the sample district,
submits a morning's worth of cases through the API, acts on a few from the district command centre, and takes
the map, case list, case page, supervision desk, statistics, assessment and the big screen in headless Chromium.

To show the warning colours without waiting hours, a few of the cases are back-dated in the stack's own
database: their received time and deadlines moved earlier together, as if reported that long ago (no
escalation worker runs, so nothing fires). Nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, async_playwright

from shared.settings import PROJECT_ROOT
from tests.e2e.console_stack import SAMPLE, ConsoleStack, console_stack, sign_in_with_key

OUT = PROJECT_ROOT / "docs" / "console"
PEOPLE_OUT = PROJECT_ROOT / "docs" / "people"
WORKER_PASSWORD = "Xiguan-Grid-2026!"
CHROMIUM = "/usr/bin/chromium"

# (micro-grid, matter, title, description, back-date in hours or 0)
REPORTS: list[tuple[str, str | None, str, str, float]] = [
    ("610199004001001006", "corridor_clutter", "楼道堆满纸箱", "3号楼2单元楼道堆满纸箱，影响通行", 0),
    ("610199004001001002", "sanitation", "小区垃圾没人清运", "垃圾桶满溢两天了，味道很大", 1.5),
    ("610199004001002001", "non_motor_parking", "电动车乱停堵住单元门", "单元门口电动车乱停", 3),
    ("610199004002001003", "flyposting", "墙上小广告乱贴", "小区围墙上贴满小广告", 0),
    ("610199004003002002", "stairwell_lighting", "楼道声控灯不亮", "5号楼楼道灯坏了一周", 30),
    ("610199001001001001", "dog_nuisance", "遛狗不牵绳", "小区里有人遛狗不牵绳，吓到小孩", 0),
    ("610199001002002003", "waste_sorting", "垃圾混投混运", "分类垃圾桶被混投", 1.2),
    ("610199002001001001", "ebike_charging", "楼道里飞线充电", "有人从窗户拉电线给电动车充电", 0),
    ("610199002003001002", None, "小区路灯坏了", "小区主干道路灯不亮", 0),
    ("610199003001002001", "fire_lane_blocked", "消防通道被占用", "消防通道停满私家车", 0.5),
    ("610199003002001001", "sanitation", "绿化带里有建筑垃圾", "装修垃圾倒在绿化带里没人清运", 26),
    ("610199001003001002", "elderly_alone", "独居老人多日未见", "邻居反映独居老人三天没出门", 0),
    ("610199004002002001", "street_vending", "占道经营", "菜贩在人行道上摆摊", 0),
    ("610199002002001001", "gas_leak", "闻到煤气味", "楼道里有很重的煤气味", 0),
]


def _centroids() -> dict[str, dict[str, float]]:
    """A point inside each micro-grid of the sample district (the sample's cells are simple polygons)."""
    features = json.loads((SAMPLE / "units.geojson").read_text())["features"]
    points = {}
    for f in features:
        ring = f["geometry"]["coordinates"][0][:-1]
        points[f["properties"]["code"]] = {
            "lon": round(sum(p[0] for p in ring) / len(ring), 6),
            "lat": round(sum(p[1] for p in ring) / len(ring), 6),
        }
    return points


class _Receiver(BaseHTTPRequestHandler):
    """A department system's webhook endpoint: takes every post."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _subscribe(stack: ConsoleStack, name: str, target: str) -> None:
    notify = f"http://127.0.0.1:{stack.ports['notify']}"
    with httpx.Client(base_url=notify, headers={"Authorization": f"Bearer {stack.keys['district']}"}) as http:
        body = {"name": name, "channel": "webhook", "target": target, "units": ["unit:610199"]}
        http.post("/v1/subscriptions", json=body).raise_for_status()


def _walk(stack: ConsoleStack, case_id: str, steps: list[tuple[str, str, dict[str, Any], str]]) -> None:
    """Act step by step, each once the case has reached the state the step before leads to."""
    lead = stack.case(case_id)["assignment"]["lead"]
    for who, action, body, then in steps:
        if action == "resolve":  # the assisting units report in first (the case waits for their parts)
            for party in stack.case(case_id)["progress"]["owing"]:
                actor = {"id": "协办员赵刚", "unit": party, "role": "assisting"}
                stack.act("hotline", case_id, "report_in", actor=actor, text="已到场配合")
                stack.wait_case(case_id, lambda c, p=party: p not in c["progress"]["owing"])
        if who == "grid_app":
            body = {"actor": {"id": "网格员王芳", "unit": lead, "role": "assignee"}, **body}
        elif who == "district":
            body = {"actor": {"id": "值班员李明", "unit": "unit:610199"}, **body}
        stack.act(who, case_id, action, **body)
        stack.wait_case(case_id, lambda c, then=then: c["state"] == then)


def seed(stack: ConsoleStack, receiver_port: int) -> dict[str, str]:
    """Submit the reports, wait until dispatch has them, act on a few; returns the case ids by title."""
    _subscribe(stack, "区指挥中心工单系统", f"http://127.0.0.1:{receiver_port}/hooks/griddispatch")
    _subscribe(stack, "城管局工单系统（离线）", "http://127.0.0.1:9/hooks/griddispatch")  # nothing listens: retries
    points = _centroids()
    ids: dict[str, str] = {}
    for code, matter, title, text, _ in REPORTS:
        body: dict[str, Any] = {"title": title, "description": text, "location": points[code]}
        if matter:
            body["matter_code"] = matter
        body["reporter"] = {"name": "张女士", "phone": "13912345678"}
        ids[title] = stack.submit(**body)["case_id"]
    for case_id in ids.values():
        stack.wait_case(case_id, lambda c: c["state"] not in ("received", "reported"))
    main = ids["楼道堆满纸箱"]
    _walk(stack, main, [("grid_app", "accept", {}, "accepted")])
    stack.act(
        "district",
        main,
        "comment",
        actor={"id": "值班员李明", "unit": "unit:610199"},
        text="已通知网格员上门，今天下班前清理",
    )
    stack.wait_case(main, lambda c: any(e["action"] == "comment" for e in c["history"]))
    closed_loop = [
        ("grid_app", "accept", {}, "accepted"),
        ("grid_app", "resolve", {"text": "已现场劝导，养犬人已牵绳"}, "resolved"),
        ("district", "verify", {"passed": True}, "verified"),
        ("hotline", "rate", {"score": 5, "actor": {"id": "张女士"}}, "closed"),
    ]
    _walk(stack, ids["遛狗不牵绳"], closed_loop)
    _walk(stack, ids["墙上小广告乱贴"], closed_loop[:2])
    return ids


async def backdate(stack: ConsoleStack, ids: dict[str, str]) -> None:
    """Move some cases' received time and deadlines earlier together (see the module docstring)."""
    conn = await asyncpg.connect(stack.db_url)
    try:
        for _, _, title, _, hours in REPORTS:
            if not hours:
                continue
            shift = timedelta(hours=hours)
            case_id = uuid.UUID(ids[title])
            async with conn.transaction():
                await conn.execute(
                    """UPDATE cases SET received_at = received_at - $2::interval,
                                        accept_by = accept_by - $2::interval, resolve_by = resolve_by - $2::interval WHERE case_id = $1""",
                    case_id,
                    shift,
                )
                await conn.execute(
                    """UPDATE deadlines SET starts_at = starts_at - $2::interval, due_at = due_at - $2::interval,
                              next_fire_at = next_fire_at - $2::interval,
                              warn_times = ARRAY(SELECT w - $2::interval FROM unnest(warn_times) AS w)
                       WHERE case_id = $1""",
                    case_id,
                    shift,
                )
                await conn.execute("UPDATE case_events SET at = at - $2::interval WHERE case_id = $1", case_id, shift)
    finally:
        await conn.close()


async def shoot(stack: ConsoleStack, ids: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--lang=zh-CN"],
            env={**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"},
        )
        try:
            context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page: Page = await context.new_page()
            await sign_in_with_key(page, stack.console_url, stack.keys["district"])
            await page.wait_for_selector("svg.district-map path.grid")
            await page.wait_for_selector('#live-indicator[data-state="live"]')
            await page.click('svg.district-map path.grid[data-code="610199004001001"]')
            await page.wait_for_selector("#grid-detail ol.grid-cases a")
            shots.append(await _shot(page, out / "map.png"))

            await page.goto(f"{stack.console_url}#/map?unit=610199004")
            await page.wait_for_selector("svg.district-map path.grid")
            await page.wait_for_timeout(500)
            shots.append(await _shot(page, out / "map-street.png"))

            await page.goto(f"{stack.console_url}#/cases")
            await page.wait_for_selector("#case-table tbody tr[data-case-id]")
            shots.append(await _shot(page, out / "cases.png"))

            await page.set_viewport_size({"width": 1920, "height": 1080})  # the duty officer's screen
            await page.goto(f"{stack.console_url}#/cases/{ids['楼道堆满纸箱']}")
            await page.wait_for_selector("#timeline li")
            await page.fill("#actor-id", "值班员李明")
            await page.locator("#actor-id").blur()
            await page.wait_for_timeout(500)
            shots.append(await _shot(page, out / "case.png", full_page=True))
            await page.set_viewport_size({"width": 1440, "height": 900})

            await page.goto(f"{stack.console_url}#/desk")
            await page.wait_for_selector("#desk-table tbody tr[data-case-id]")
            shots.append(await _shot(page, out / "desk.png"))

            await page.goto(f"{stack.console_url}#/stats")
            await page.wait_for_selector("#stats-table table, #stats-table .notice, #stats-table .problem")
            await page.wait_for_timeout(1200)  # the chart's entry animation
            shots.append(await _shot(page, out / "stats.png"))

            await page.goto(f"{stack.console_url}#/assessment?unit=unit:610199004&level=grid")
            await page.wait_for_selector("#assessment-table table, #assessment-table .problem")
            await page.click("table.assessment button[data-key=received]")  # the busiest grids first
            shots.append(await _shot(page, out / "assessment.png"))
            await context.close()

            for width, height, name in ((1920, 1080, "wall-1080p.png"), (3840, 2160, "wall-4k.png")):  # 大屏
                wall = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                page = await wall.new_page()
                await sign_in_with_key(page, stack.console_url, stack.keys["district"])
                await page.goto(f"{stack.console_url}#/wall")
                await page.wait_for_selector("#wall[data-loaded-at]")
                await page.wait_for_timeout(1200)  # the charts' entry animation
                shots.append(await _shot(page, out / name))
                await wall.close()

            key = {"Authorization": f"Bearer {stack.keys['district']}"}  # the printable page, as the console opens it
            printable = await browser.new_context(viewport={"width": 1123, "height": 794}, extra_http_headers=key)
            page = await printable.new_page()
            await page.goto(f"{stack.intake_url}/v1/assessment/report?unit=unit:610199004&level=grid")
            await page.emulate_media(media="print")
            shots.append(await _shot(page, out / "assessment-report.png", full_page=True))
            await printable.close()
        finally:
            await browser.close()
    return shots


# The grid worker of three micro-grids the seeded reports fall in (one fresh, two back-dated): their queue.
WORKER_UNITS = ["unit:610199004001001006", "unit:610199004001001002", "unit:610199004001002001"]


def add_worker(stack: ConsoleStack) -> str:
    """Before the reports: dispatch names the responsible person as it assigns."""
    roles = [("grid_worker", unit) for unit in WORKER_UNITS]
    return stack.add_person("萧琳国", WORKER_PASSWORD, roles, username="xiao.linguo")


async def shoot_people(stack: ConsoleStack, out: Path, worker: str) -> list[Path]:
    """The sign-in page (a desk's width) and 我的待办 of the grid's worker (a phone's), signed in by password."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--lang=zh-CN"],
            env={**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"},
        )
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 720}, locale="zh-CN")
            page: Page = await context.new_page()
            await page.goto(stack.console_url)
            await page.wait_for_selector("#sign-in #login")
            await page.fill("#login", worker)
            shots.append(await _shot(page, out / "sign-in.png"))
            await context.close()

            phone = await browser.new_context(
                viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
            )
            page = await phone.new_page()
            await page.goto(stack.console_url)
            await page.fill("#login", worker)
            await page.fill("#password", WORKER_PASSWORD)
            await page.click("#sign-in button[type=submit]")
            await page.wait_for_selector("#queue li")
            await page.wait_for_timeout(500)
            shots.append(await _shot(page, out / "queue-phone.png", full_page=True))
            await phone.close()
        finally:
            await browser.close()
    return shots


async def _shot(page: Page, path: Path, *, full_page: bool = False) -> Path:
    await page.mouse.move(0, 0)  # no hover outline left where the last click was
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--port", type=int, default=18385, help="first of five ports (intake, +1, +2, +3, receiver +4)")
    parser.add_argument("--serve", action="store_true", help="after the screenshots, keep the stack up (Ctrl-C)")
    parser.add_argument("--people", action="store_true", help="the sign-in page and a worker's queue (docs/people/)")
    args = parser.parse_args()
    receiver = HTTPServer(("127.0.0.1", args.port + 4), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="console-shots-") as workdir,
            console_stack(Path(workdir), args.port) as stack,
        ):
            worker = add_worker(stack) if args.people else ""
            ids = seed(stack, args.port + 4)
            asyncio.run(backdate(stack, ids))
            time.sleep(3)  # notify's worker makes its first attempts
            taken = asyncio.run(shoot_people(stack, PEOPLE_OUT, worker) if args.people else shoot(stack, ids, args.out))
            for path in taken:
                print(path)
            if args.serve:
                print(f"console: {stack.console_url}  district key: {stack.keys['district']}")
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    finally:
        receiver.shutdown()
        receiver.server_close()


if __name__ == "__main__":
    main()
