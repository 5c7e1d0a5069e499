"""The command-centre console: static files at /console/ and the little it needs to know at /console/config.json
(where notify is, the district, its clock, how people may sign in, and the map's tile layer if any)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles

from services.intake.deps import Res
from shared.settings import IntakeSettings

CONSOLE_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(tags=["console"])


OIDC_LOGIN = "/v1/auth/oidc/login"


def sign_in_methods(app: FastAPI) -> dict[str, Any]:
    """How the sign-in page offers to sign in: a person's password, single sign-on when intake has an OpenID
    Connect provider configured, and an API key (for system operators; a secondary option)."""
    # main.py sets app.state.oidc (and registers /v1/auth/oidc/*) only when GRIDDISPATCH_OIDC_ISSUER is set.
    sso = getattr(app.state, "oidc", None) is not None
    return {"password": True, "oidc": sso, "oidc_login_url": OIDC_LOGIN if sso else None, "api_key": True}


@router.get(
    "/console/config.json",
    summary="The console's configuration: where notify is, the district, its clock, the ways to sign in",
)
async def console_config(request: Request, res: Res) -> dict[str, Any]:
    district = await res.pool.fetchval(
        """SELECT code FROM registry_units
           WHERE version_id = (SELECT version_id FROM registry_active) AND level = 'district'
           ORDER BY code LIMIT 1"""
    )
    return {
        "notify_url": res.notify_url,
        "district": district,
        "timezone": res.settings.district_timezone,
        "sign_in": sign_in_methods(request.app),
        "tiles": tiles_of(res.settings),
    }


def tiles_of(settings: IntakeSettings) -> dict[str, Any] | None:
    """The slippy map's tile layer, or None: the console then draws its offline outline map."""
    if not settings.console_tiles_url:
        return None
    return {
        "url": settings.console_tiles_url,
        "attribution": settings.console_tiles_attribution,
        "subdomains": settings.console_tiles_subdomains,
        "crs": settings.console_tiles_crs,
        "max_zoom": settings.console_tiles_max_zoom,
    }


def mount_console(app: FastAPI) -> None:
    """config.json first (routes match in order), then the files; the folder may still be empty."""
    app.include_router(router)
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True, check_dir=False), name="console")
