"""The field app (网格员手机端): a progressive web app at /app/ (plain ES modules, no build step) for grid workers
and department field staff. What it reads and writes is intake's and notify's public API; intake serves it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

FIELD_APP_DIR = Path(__file__).resolve().parent / "static"


def mount_field_app(app: FastAPI) -> None:
    """The files, after every route of the app (routes match in order). The service worker and the manifest get
    their own answers: the worker is never cached by the browser's HTTP cache (a new app version is seen at the
    next start) and may control all of /app/; the manifest carries its registered type."""

    @app.get("/app/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        return FileResponse(
            FIELD_APP_DIR / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app/"},
        )

    @app.get("/app/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> FileResponse:
        return FileResponse(FIELD_APP_DIR / "manifest.webmanifest", media_type="application/manifest+json")

    app.mount("/app", StaticFiles(directory=FIELD_APP_DIR, html=True, check_dir=False), name="field_app")
