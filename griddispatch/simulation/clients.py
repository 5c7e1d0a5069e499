"""The API clients a simulation acts through, created once and kept (with their keys) in a local file.

A key is shown only once and stored only as its hash, so the demo keeps its keys in `<local dir>/demo/
clients.json` (mode 0600); a run reuses every key that still authenticates and creates the rest.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.api_clients import authenticate, create_client

RATE_PER_MIN = 1_000_000  # a simulation must not trip the per-client rate limit it is not measuring


@dataclass(frozen=True, slots=True)
class ClientSpec:
    role: str
    name: str
    scopes: tuple[str, ...]
    source: str | None


DEMO_CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec("hotline", "模拟：12345市民热线", ("submit", "read", "act"), "hotline"),
    ClientSpec("grid_app", "模拟：网格员手机", ("submit", "read"), "grid_app"),
    ClientSpec("camera", "模拟：视频智能分析", ("submit", "read"), "camera"),
    ClientSpec("department", "模拟：部门业务系统", ("submit", "read"), "department"),
    ClientSpec("worker", "模拟：网格员与部门处置", ("read", "act"), None),
    ClientSpec("supervisor", "模拟：区指挥中心", ("read", "supervise"), None),
)


@dataclass(frozen=True, slots=True)
class StoredClient:
    id: uuid.UUID
    key: str


def _read(path: Path) -> dict[str, StoredClient]:
    try:
        raw = json.loads(path.read_text())
        return {role: StoredClient(uuid.UUID(v["id"]), v["key"]) for role, v in raw.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write(path: Path, clients: dict[str, StoredClient]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({role: {"id": str(c.id), "key": c.key} for role, c in clients.items()}, f, indent=2)
    tmp.replace(path)


async def ensure_clients(
    conn: asyncpg.Connection, path: Path, specs: tuple[ClientSpec, ...] = DEMO_CLIENTS
) -> dict[str, StoredClient]:
    """Every client of `specs` by role: reused from `path` when its key still works, else created."""
    stored = _read(path)
    out: dict[str, StoredClient] = {}
    for spec in specs:
        known = stored.get(spec.role)
        if known is not None:
            client = await authenticate(conn, known.key)
            if client is not None and client.id == known.id and set(spec.scopes) <= client.scopes:
                out[spec.role] = known
                continue
        client, key = await create_client(
            conn, name=spec.name, scopes=spec.scopes, units=["*"], source=spec.source, rate_per_min=RATE_PER_MIN
        )
        out[spec.role] = StoredClient(client.id, key)
    if out != stored:
        _write(path, out)
    return out
