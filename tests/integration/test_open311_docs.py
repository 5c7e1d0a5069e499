"""docs/open311.md's commands, run as written against intake served by uvicorn on the real broker and database.

The key comes from the page's own `griddispatch clients create` line; the Examples block's curl commands run in
bash with `BASE` and `KEY` set as the block sets them (to the served intake and that key), and the example case
number replaced by the one the POST answered. Each must answer 200 or 201 with JSON or XML that is not an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest
import uvicorn

from services.intake.main import create_app
from shared.settings import PROJECT_ROOT, IntakeSettings, ServiceSettings
from tests import intake_fixtures
from tests.cli import griddispatch
from tests.intake_fixtures import IntakeUnderTest

intake = intake_fixtures.intake  # the fixture, used by name

PAGE = (PROJECT_ROOT / "docs" / "open311.md").read_text(encoding="utf-8")
EXAMPLE_ID = "GD-261122-000042"


def _blocks(section: str) -> list[str]:
    """The ```sh blocks of one `## section` of the page."""
    body = PAGE.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, flags=re.DOTALL)


def _commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines left out."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
async def served(intake: IntakeUnderTest) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(intake.kafka, intake.database, ServiceSettings(), IntakeSettings(public_url=base))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()


def _answer(output: str) -> object:
    """The JSON or XML a command printed, checked not to be an Open311 error list."""
    if output.startswith("<?xml"):
        root = ET.fromstring(output.encode())
        assert root.tag != "errors", output
        return root
    answer = json.loads(output)
    assert not (isinstance(answer, list) and answer and "code" in answer[0]), output
    return answer


async def test_the_pages_commands_work_as_written(intake: IntakeUnderTest, served: str) -> None:
    [create] = [c for c in _commands(_blocks("Authentication")[0]) if c.startswith("griddispatch clients create")]
    made = await asyncio.to_thread(
        griddispatch, *shlex.split(create)[1:], env={"GRIDDISPATCH_DB_URL": intake.database.url}
    )
    assert made.returncode == 0, made.stderr
    client = json.loads(made.stdout)
    assert client["scopes"] == ["read", "submit"] and client["units"] == []

    [example] = _blocks("Examples")
    commands = _commands(example)
    settings = [c for c in commands if re.match(r"^[A-Z]+=", c)]
    assert [c.split("=", 1)[0] for c in settings] == ["BASE", "KEY"], settings
    env = {**os.environ, "BASE": f"{served}/open311/v2", "KEY": client["key"]}
    curls = [c for c in commands if c not in settings]
    assert curls and all(c.startswith("curl ") for c in curls), curls
    posted: str | None = None
    for command in curls:
        if EXAMPLE_ID in command:
            assert posted is not None, "the page reads its request before posting it"
            command = command.replace(EXAMPLE_ID, posted)
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (command, done.stderr)
        answer = _answer(done.stdout)
        if "-X POST" in command:
            assert isinstance(answer, list)
            posted = answer[0]["service_request_id"]
        elif posted is not None and "requests" in command and "service_code=" not in command:
            # (no dispatch runs here: a request not yet dispatched matches no service_code filter, as documented)
            found = (
                json.dumps(answer, ensure_ascii=False)
                if not isinstance(answer, ET.Element)
                else ET.tostring(answer, encoding="unicode")
            )
            assert posted in found, (command, done.stdout[:300])
    assert posted is not None
