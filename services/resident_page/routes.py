"""The residents' page: static files at /resident/ (plain HTML, CSS and an ES module, no build step), the case
look-up and the rating form the outcome SMS links to (/resident/rate#t=<token>). What they read is intake's
public API (/v1/public/...); intake serves them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

PAGE_DIR = Path(__file__).resolve().parent / "static"


def mount_resident_page(app: FastAPI) -> None:
    """The files, after every route of the app (routes match in order)."""
    app.mount("/resident", StaticFiles(directory=PAGE_DIR, html=True, check_dir=False), name="resident")
