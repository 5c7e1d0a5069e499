"""A private stack for the console's browser tests and screenshots: intake, dispatch and notify (escalation
optional) as real processes on their own ports, against the running Kafka and PostgreSQL, with a database and
topic prefix of their own, the sample district imported and API keys for a command centre and a hotline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import httpx

from griddispatch.infra import kafka as local_kafka
from griddispatch.infra import postgres as local_postgres
from shared.api_clients import create_client
from shared.db import migrate
from shared.kafka import delete_topics_with_prefix
from shared.people.passwords import hash_password
from shared.settings import PROJECT_ROOT, KafkaSettings, LocalInfraSettings

if TYPE_CHECKING:
    from playwright.async_api import Page

T = TypeVar("T")
SAMPLE = PROJECT_ROOT / "data" / "sample-district"
DISTRICT = "610199"
STREET = "610199004"  # 西关街道 of the sample district
POINT = {"lon": 108.9352, "lat": 34.2721}  # in micro-grid 610199004001001006, grid 610199004001001

KEYS: dict[str, tuple[list[str], list[str], str | None]] = {
    "district": (["read", "act", "supervise"], [f"unit:{DISTRICT}"], None),
    "street": (["read", "act", "supervise"], [f"unit:{STREET}"], None),
    "hotline": (["submit", "read", "act"], ["*"], "hotline"),
    "grid_app": (["read", "act"], [f"unit:{DISTRICT}"], "grid_app"),
    "city_management": (["read", "act"], ["department:city_management"], None),
}


@dataclass
class ConsoleStack:
    ports: dict[str, int]
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)
    db_url: str = ""

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['intake']}"

    @property
    def console_url(self) -> str:
        return f"{self.intake_url}/console/"

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.intake_url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=30)

    def submit(self, who: str = "hotline", **report: Any) -> dict[str, Any]:
        body = {
            "title": "路口井盖丢失",
            "description": "路口的井盖不见了，晚上很危险",
            "location": POINT,
            **report,
        }
        with self.client(who) as http:
            answer = http.post("/v1/reports", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 202, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def act(self, who: str, case_id: str, action: str, **body: Any) -> None:
        """Post an action (202 expected); `actor` defaults to a person of the key's own."""
        body.setdefault("actor", {"id": f"{who}-1"})
        with self.client(who) as http:
            answer = http.post(
                f"/v1/cases/{case_id}/actions",
                json={"action": action, **body},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        assert answer.status_code == 202, answer.text

    def case(self, case_id: str, who: str = "district") -> dict[str, Any]:
        with self.client(who) as http:
            answer = http.get(f"/v1/cases/{case_id}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait_case(self, case_id: str, check: Any, timeout_s: float = 180, who: str = "district") -> dict[str, Any]:
        """The case once `check(case)` holds (dispatch works in the background).

        Until dispatch has written the case, only the submitting client sees it (intake's submission row is
        scoped to that client): any other key gets 404, which here means "not yet", not a failure.
        """
        deadline = time.monotonic() + timeout_s
        last: str = ""
        while time.monotonic() < deadline:
            with self.client(who) as http:
                answer = http.get(f"/v1/cases/{case_id}")
            if answer.status_code == 200:
                case: dict[str, Any] = answer.json()
                if check(case):
                    return case
                last = str(case)
            elif answer.status_code == 404:
                last = answer.text
            else:
                raise AssertionError(f"GET case {case_id}: {answer.status_code} {answer.text}")
            time.sleep(0.3)
        raise AssertionError(f"case {case_id} never got there in {timeout_s} s; last seen: {last}")

    def add_person(
        self,
        name: str,
        password: str,
        roles: list[tuple[str, str]],
        *,
        phone: str | None = None,
        username: str | None = None,
    ) -> str:
        """A person who signs in with a password (a username of their own, unique unless given), holding `roles`
        [(role, unit)]; written as an administrator's store would. Returns the username (also the person's id)."""
        username = username or f"p{uuid.uuid4().hex[:10]}"

        async def insert() -> None:
            conn = await asyncpg.connect(self.db_url)
            try:
                async with conn.transaction():
                    await conn.execute(
                        """INSERT INTO persons (id, name, username, phone, password_hash, password_changed_at)
                           VALUES ($1, $2, $1, $3, $4, now())""",
                        username,
                        name,
                        phone,
                        hash_password(password),
                    )
                    await conn.executemany(
                        "INSERT INTO person_roles (person_id, role, unit, granted_by) VALUES ($1, $2, $3, 'test')",
                        [(username, role, unit) for role, unit in roles],
                    )
            finally:
                await conn.close()

        _run(insert)
        return username

    def sign_in(self, login: str, password: str) -> dict[str, Any]:
        """POST /v1/auth/sign-in: the token pair (and `person`) a browser would get."""
        answer = httpx.post(
            f"{self.intake_url}/v1/auth/sign-in", json={"login": login, "password": password}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        return tokens


async def sign_in_with_key(page: Page, console_url: str, key: str) -> None:
    """The console's secondary sign-in, for system operators: open 使用 API 密钥, paste the key, sign in."""
    await page.goto(console_url)
    await page.click("#key-option summary")
    await page.fill("#api-key", key)
    await page.click("#key-sign-in button[type=submit]")


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from sync code, also where the caller's thread already runs an event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


async def _create_database(local: LocalInfraSettings, name: str) -> str:
    conn = await asyncpg.connect(local_postgres.url_of(local, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = local_postgres.url_of(local, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def _drop_database(local: LocalInfraSettings, name: str) -> None:
    conn = await asyncpg.connect(local_postgres.url_of(local, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _create_keys(url: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    conn = await asyncpg.connect(url)
    try:
        for who, (scopes, units, source) in KEYS.items():
            name = {
                "district": "丰庆区指挥中心",
                "street": "西关街道指挥中心",
                "hotline": "12345热线",
                "grid_app": "网格员App",
                "city_management": "区城管局",
            }[who]
            _, keys[who] = await create_client(conn, name=name, scopes=scopes, units=units, source=source)
    finally:
        await conn.close()
    return keys


def _wait_ready(name: str, url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}); its log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} not ready after {timeout_s} s; its log:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def console_stack(
    workdir: Path,
    base_port: int = 18380,
    *,
    services: tuple[str, ...] = ("dispatch", "notify", "intake"),
    extra_env: dict[str, str] | None = None,
) -> Iterator[ConsoleStack]:
    """Start the stack (in `workdir`: logs, faust's data), yield it, stop what it started and drop its database.
    `extra_env` sets more GRIDDISPATCH_* settings for every process (short tokens, an early lockout)."""
    local = LocalInfraSettings()
    names = ("intake", "dispatch", "escalation", "notify")
    ports = {name: base_port + n for n, name in enumerate(names)}
    db_name = f"gd_console_{uuid.uuid4().hex[:10]}"
    db_url = _run(lambda: _create_database(local, db_name))
    env = {
        **os.environ,
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": local_kafka.bootstrap_of(local),
        "GRIDDISPATCH_KAFKA_TOPIC_PREFIX": f"console-{uuid.uuid4().hex[:8]}",
        "GRIDDISPATCH_DB_URL": db_url,
        "GRIDDISPATCH_LOG_JSON": "1",
        "GRIDDISPATCH_SERVICE_DATA_DIR": str(workdir / "dispatch-data"),  # faust's local state, in the workdir
        "GRIDDISPATCH_NOTIFY_CONSOLE_ORIGINS": f"http://127.0.0.1:{ports['intake']},http://localhost:{ports['intake']}",
        **{f"GRIDDISPATCH_SERVICE_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **(extra_env or {}),
    }
    (workdir / "dispatch-data").mkdir(parents=True, exist_ok=True)
    stack = ConsoleStack(ports, env, db_url=db_url)
    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        subprocess.run(
            [sys.executable, "-m", "griddispatch.cli", "registry", "import", str(SAMPLE)],
            env=env,
            check=True,
            capture_output=True,
            cwd=workdir,
        )
        stack.keys = _run(lambda: _create_keys(db_url))
        for name in services:
            log_path = workdir / f"{name}.log"
            log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the process ends
            logs.append(log)
            process = subprocess.Popen(
                [sys.executable, "-m", "griddispatch.cli", "serve", name, "--port", str(ports[name])],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append(process)
            _wait_ready(name, f"http://127.0.0.1:{ports[name]}", process, log_path)
        yield stack
    finally:
        for process in reversed(processes):
            _stop(process)
        for log in logs:
            log.close()
        _run(lambda: _drop_database(local, db_name))
        with contextlib.suppress(Exception):
            kafka = KafkaSettings(bootstrap_servers=env["GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS"])
            _run(lambda: delete_topics_with_prefix(kafka, env["GRIDDISPATCH_KAFKA_TOPIC_PREFIX"]))
