"""The last demo replay's scope, kept so that `griddispatch demo summary` can report on it later."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from griddispatch.simulation.summary import RunScope
from shared.errors import NotFound


def save_run(path: Path, scope: RunScope) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = [str(i) for i in scope.client_ids] if scope.client_ids is not None else None
    path.write_text(json.dumps({"since": scope.since.isoformat(), "client_ids": ids}, indent=2))


def load_run(path: Path) -> RunScope:
    try:
        raw = json.loads(path.read_text())
        ids = raw["client_ids"]
        return RunScope(
            since=datetime.fromisoformat(raw["since"]),
            client_ids=tuple(uuid.UUID(i) for i in ids) if ids is not None else None,
        )
    except FileNotFoundError:
        raise NotFound(f"no demo replay recorded in {path}: run `griddispatch demo replay` first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotFound(f"{path} is not a demo run record ({exc}); run `griddispatch demo replay` again") from None
