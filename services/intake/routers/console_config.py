"""GET /console/config.json: what the console's pages need to know of this intake (where notify is, the district,
its clock, how people may sign in, and the map's tile layer if any). The pages themselves are services/console/."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from services.intake.deps import Res
from shared.settings import IntakeSettings

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
