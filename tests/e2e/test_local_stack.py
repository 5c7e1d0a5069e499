"""`griddispatch infra up/down/status` and `griddispatch up/down/status` as a user runs them.

A second stack on its own ports and directory, so the session's infrastructure is not disturbed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.settings import PROJECT_ROOT, LocalInfraSettings
from tests.cli import griddispatch

PORTS = {"kafka": 29192, "controller": 29193, "postgres": 25532}  # below 32768: no client socket can hold them
SERVICE_PORTS = {"intake": 18000, "dispatch": 18001, "escalation": 18002, "notify": 18003}


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory, local_infra: LocalInfraSettings) -> Iterator[dict[str, str]]:
    local_dir = tmp_path_factory.mktemp("stack") / ".local"
    env = {
        "GRIDDISPATCH_LOCAL_DIR": str(local_dir),
        "GRIDDISPATCH_LOCAL_CACHE_DIR": str(local_infra.cache_dir),  # the jars the session already has
        "GRIDDISPATCH_LOCAL_KAFKA_PORT": str(PORTS["kafka"]),
        "GRIDDISPATCH_LOCAL_KAFKA_CONTROLLER_PORT": str(PORTS["controller"]),
        "GRIDDISPATCH_LOCAL_POSTGRES_PORT": str(PORTS["postgres"]),
        "GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{PORTS['kafka']}",
        "GRIDDISPATCH_DB_URL": f"postgresql://griddispatch:griddispatch@127.0.0.1:{PORTS['postgres']}/griddispatch",
        **{f"GRIDDISPATCH_SERVICE_{name.upper()}_PORT": str(port) for name, port in SERVICE_PORTS.items()},
    }
    yield env
    griddispatch("down", env=env)
    data = local_dir / "postgres"
    if data.is_symlink():  # the cluster was kept outside a directory the postgres user could not enter
        shutil.rmtree(data.resolve().parent, ignore_errors=True)


def _status(env: dict[str, str]) -> dict[str, dict[str, object]]:
    result = griddispatch("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {part["name"]: part for part in json.loads(result.stdout)}


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _our_processes(marker: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            pids.append(int(cmdline.parent.name))
    return pids


def test_infra_up_twice_is_harmless_and_down_leaves_nothing(stack_env: dict[str, str]) -> None:
    first = griddispatch("infra", "up", env=stack_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"127.0.0.1:{PORTS['kafka']}" in first.stdout
    before = _status(stack_env)
    assert before["kafka"]["state"] == before["postgres"]["state"] == "running"

    second = griddispatch("infra", "up", env=stack_env)
    assert second.returncode == 0, second.stdout + second.stderr
    after = _status(stack_env)
    assert after["kafka"]["pid"] == before["kafka"]["pid"]  # nothing was started twice
    assert after["postgres"]["pid"] == before["postgres"]["pid"]

    down = griddispatch("infra", "down", env=stack_env)
    assert down.returncode == 0
    assert "kafka" in down.stdout and "postgres" in down.stdout
    local_dir = stack_env["GRIDDISPATCH_LOCAL_DIR"]
    assert _our_processes(f"{local_dir}/kafka/server.properties") == []
    assert _our_processes("postgres -D") == [] or all(
        local_dir not in Path(f"/proc/{p}/cmdline").read_text(errors="replace") for p in _our_processes("postgres -D")
    )
    status = _status(stack_env)
    assert status["kafka"]["state"] == status["postgres"]["state"] == "stopped"
    assert griddispatch("infra", "down", env=stack_env).stdout.strip() == "nothing of ours was running"


def test_up_starts_four_ready_services_and_down_stops_them(stack_env: dict[str, str]) -> None:
    result = griddispatch("up", env=stack_env, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    # A fresh stack has no registry: dispatch is up but not ready, and both `up` and `status` say so.
    assert "WARNING: no registry version is active" in result.stdout
    assert "`griddispatch registry import <dir>`" in result.stdout
    waiting = httpx.get(f"http://127.0.0.1:{SERVICE_PORTS['dispatch']}/readyz", timeout=10)
    assert (
        waiting.status_code == 503 and "no registry version is active" in waiting.json()["checks"]["registry"]["error"]
    )
    assert _status(stack_env)["dispatch"]["ready"] == "not ready: no registry"
    assert "dispatch" in (text := griddispatch("status", env=stack_env).stdout) and "not ready: no registry" in text
    imported = griddispatch(
        "registry", "import", str(PROJECT_ROOT / "data" / "sample-district"), "--by", "test", env=stack_env
    )
    assert imported.returncode == 0, imported.stderr

    def all_ready() -> bool:
        return all(_status(stack_env)[name]["ready"] == "ready" for name in SERVICE_PORTS)

    assert wait_until(all_ready, timeout_s=60), _status(stack_env)  # without a restart
    status = _status(stack_env)
    for name, port in SERVICE_PORTS.items():
        part = status[name]
        assert part["state"] == "running" and isinstance(part["pid"], int)
        assert part["url"] == f"http://127.0.0.1:{port}"
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, (name, ready.text)
        assert "griddispatch_service_info" in httpx.get(f"{base}/metrics", timeout=5).text
    log = Path(status["intake"]["log"])  # services log JSON lines that carry the service name
    first_line = json.loads(log.read_text().splitlines()[0])
    assert first_line["service"] == "intake"

    # A hotline system with a key from the CLI submits a report to the running intake and follows it.
    created = griddispatch(
        "clients",
        "create",
        "--name",
        "hotline",
        "--scope",
        "submit",
        "--scope",
        "read",
        "--unit",
        "*",
        "--source",
        "hotline",
        env=stack_env,
    )
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
    report = {"title": "噪音扰民", "description": "夜间施工", "location": {"address": "北院门街道"}}
    accepted = httpx.post(
        f"http://127.0.0.1:{SERVICE_PORTS['intake']}/v1/reports", json=report, headers=headers, timeout=10
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status_url"].startswith(f"http://127.0.0.1:{SERVICE_PORTS['intake']}/v1/cases/")
    case = httpx.get(accepted.json()["status_url"], headers=headers, timeout=10)
    assert case.status_code == 200 and case.json()["case_number"] == accepted.json()["case_number"]
    assert any(
        '"report_accepted"' in line and accepted.json()["case_id"] in line for line in log.read_text().splitlines()
    )

    down = griddispatch("down", env=stack_env)
    assert down.returncode == 0
    for name in SERVICE_PORTS:
        assert name in down.stdout
    assert all(part["state"] == "stopped" for part in _status(stack_env).values())
    for port in SERVICE_PORTS.values():
        assert _our_processes(f"--port {port}") == []


def test_a_port_taken_by_someone_else_is_named(stack_env: dict[str, str]) -> None:
    import socket

    griddispatch("down", env=stack_env)  # from a stopped stack, whatever the tests before left running

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = griddispatch("infra", "up", env={**stack_env, "GRIDDISPATCH_LOCAL_POSTGRES_PORT": str(port)})
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "Traceback" not in out
    assert f"{port} (GRIDDISPATCH_LOCAL_POSTGRES_PORT)" in out
