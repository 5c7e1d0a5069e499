"""A PostgreSQL cluster of our own: Debian's server binaries, data in a project-local directory, loopback port.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the `postgres` system user
that Debian's package creates; the server runs as that user, the pid file and logs stay ours.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from griddispatch.infra.processes import Processes, ProcessRecord, require_free_ports
from shared.errors import ConfigurationError, DatabaseUnavailable
from shared.settings import LocalInfraSettings

NAME = "postgres"
STOP_SIGNAL = signal.SIGINT  # "fast" shutdown: disconnect clients, then stop; SIGTERM would wait for them


@dataclass(frozen=True, slots=True)
class PostgresLayout:
    link: Path  # <local>/postgres: the data directory itself, or a link to it
    data: Path
    bin_dir: Path
    user: str | None  # the system user the server runs as; None = ourselves


def server_bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian keeps each major version apart)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def url_of(local: LocalInfraSettings, database: str | None = None, *, masked: bool = False) -> str:
    password = "***" if masked else local.postgres_password
    return (
        f"postgresql://{local.postgres_user}:{password}@127.0.0.1:{local.postgres_port}/{database or local.postgres_db}"
    )


def _run_as(user: str | None, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, user=user, group=user)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ConfigurationError(
            "running as root, PostgreSQL needs an unprivileged system user 'postgres' "
            "(Debian's postgresql package creates it): apt-get install postgresql"
        ) from exc
    return "postgres"


def layout_of(local: LocalInfraSettings) -> PostgresLayout:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise ConfigurationError("PostgreSQL server binaries not found: apt-get install postgresql")
    user = _server_user()
    link = local.dir / "postgres"
    data = link.resolve() if link.is_symlink() else link
    return PostgresLayout(link=link, data=data, bin_dir=bin_dir, user=user)


def _prepare_data_dir(local: LocalInfraSettings, layout: PostgresLayout) -> PostgresLayout:
    """Create the data directory where the server's user can reach it."""
    if layout.link.exists():
        return layout
    local.dir.mkdir(parents=True, exist_ok=True)
    data = layout.link
    if layout.user is not None and _run_as(layout.user, ["test", "-x", str(local.dir)]).returncode != 0:
        # The checkout sits under a directory the postgres user may not enter (e.g. a private temp dir):
        # keep the cluster in /var/tmp and leave a link in the project so it is still found in one place.
        digest = hashlib.sha256(str(local.dir).encode()).hexdigest()[:12]
        data = Path("/var/tmp") / f"griddispatch-{digest}" / "postgres"
        shutil.rmtree(data, ignore_errors=True)
        data.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(data.parent, 0o755)
        layout.link.symlink_to(data)
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    if layout.user is not None:
        shutil.chown(data, layout.user, layout.user)
    return PostgresLayout(link=layout.link, data=data, bin_dir=layout.bin_dir, user=layout.user)


def _initdb(local: LocalInfraSettings, layout: PostgresLayout) -> None:
    if (layout.data / "PG_VERSION").exists():
        return
    pwfile = layout.data.parent / f".pwfile-{os.getpid()}"
    pwfile.write_text(local.postgres_password + "\n")
    if layout.user is not None:
        shutil.chown(pwfile, layout.user, layout.user)
    try:
        result = _run_as(
            layout.user,
            [
                str(layout.bin_dir / "initdb"),
                "-D",
                str(layout.data),
                f"--username={local.postgres_user}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
            ],
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ConfigurationError(f"initdb in {layout.data} failed: {result.stderr[-2000:]}")


def start(local: LocalInfraSettings, processes: Processes) -> ProcessRecord:
    """Start our cluster unless it is already running; idempotent."""
    current = processes.running(NAME)
    if current is not None:
        return current
    require_free_ports({"GRIDDISPATCH_LOCAL_POSTGRES_PORT": local.postgres_port})
    layout = _prepare_data_dir(local, layout_of(local))
    _initdb(local, layout)
    if _stale(layout.data):
        (layout.data / "postmaster.pid").unlink()
    argv = [
        str(layout.bin_dir / "postgres"),
        "-D",
        str(layout.data),
        "-p",
        str(local.postgres_port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={layout.data}",
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "log_min_messages=warning",
    ]
    return processes.start(
        NAME,
        argv,
        marker=str(layout.data),
        url=url_of(local, masked=True),
        user=layout.user,
    )


def _stale(data: Path) -> bool:
    """A postmaster.pid left by a server that is gone (killed -9, machine restarted)."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError):
        return True
    return not Path(f"/proc/{pid}").exists()


async def wait_ready(local: LocalInfraSettings, processes: Processes) -> None:
    """Wait until a real query answers, creating the application database on first start."""
    deadline = time.monotonic() + local.start_timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if processes.exited_early(NAME):
            raise DatabaseUnavailable(
                f"PostgreSQL exited during start (exit status {processes.exit_code(NAME)}); "
                f"{processes.log_file(NAME)} says:\n{processes.tail(NAME)}"
            )
        try:
            conn = await asyncpg.connect(url_of(local, "postgres"), timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            last = exc
            await asyncio.sleep(0.3)
            continue
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", local.postgres_db)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{local.postgres_db}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(url_of(local), timeout=5)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
        return
    raise DatabaseUnavailable(f"PostgreSQL did not become ready in {local.start_timeout_s:.0f}s: {last}")
