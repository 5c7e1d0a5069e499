"""The command-centre console's pages: static files at /console/ (plain ES modules, no build step). What they
read is intake's and notify's public API; intake serves them and their /console/config.json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).resolve().parent / "static"


def mount_console(app: FastAPI) -> None:
    """The files, after every route of the app (routes match in order); the folder may still be empty."""
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True, check_dir=False), name="console")
