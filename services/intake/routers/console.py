"""The command-centre console: static files at /console/ and the little it needs to know at /console/config.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from services.intake.deps import Res

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"

router = APIRouter(tags=["console"])


@router.get("/console/config.json", summary="The console's configuration: where notify is, the district, its clock")
async def console_config(res: Res) -> dict[str, Any]:
    district = await res.pool.fetchval(
        """SELECT code FROM registry_units
           WHERE version_id = (SELECT version_id FROM registry_active) AND level = 'district'
           ORDER BY code LIMIT 1"""
    )
    return {"notify_url": res.notify_url, "district": district, "timezone": res.settings.district_timezone}


def mount_console(app: FastAPI) -> None:
    """config.json first (routes match in order), then the files; the folder may still be empty."""
    app.include_router(router)
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True, check_dir=False), name="console")
