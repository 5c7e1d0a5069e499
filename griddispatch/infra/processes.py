"""Background processes recorded by pid file, so `down` stops exactly what `up` started.

A pid file holds the pid and a marker that must appear in the process's command line: a pid the kernel
has since reused for something else is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigurationError

# Children started by this process, kept so they can be reaped when stopped (a discarded Popen would warn,
# and an unreaped child lingers as a zombie).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    name: str
    pid: int
    marker: str
    log: str
    url: str


class Processes:
    """The pid files and logs under one run directory."""

    def __init__(self, local_dir: Path) -> None:
        self.run_dir = local_dir / "run"
        self.log_dir = local_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, name: str) -> ProcessRecord | None:
        path = self.pid_file(name)
        if not path.exists():
            return None
        try:
            return ProcessRecord(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None

    def running(self, name: str) -> ProcessRecord | None:
        """The record of a live process of ours under that name, else None (stale files are removed)."""
        rec = self.record(name)
        if rec is None:
            return None
        if _is_alive(rec):
            return rec
        self.pid_file(name).unlink(missing_ok=True)
        return None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        marker: str,
        url: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> ProcessRecord:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_file(name)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `stop` takes every child with it
                env=env,
                cwd=cwd,
                user=user,
                group=user,
            )
        _children[proc.pid] = proc
        rec = ProcessRecord(name=name, pid=proc.pid, marker=marker, log=str(log_path), url=url)
        self.pid_file(name).write_text(json.dumps(_asdict(rec)))
        return rec

    def exit_code(self, name: str) -> int | None:
        """The exit status of a process this very process started and that has ended, else None."""
        rec = self.record(name)
        child = _children.get(rec.pid) if rec else None
        return child.poll() if child is not None else None

    def exited_early(self, name: str) -> bool:
        rec = self.record(name)
        return rec is not None and not _is_alive(rec)

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> bool:
        """Stop the recorded process group; SIGKILL after the timeout. True if something was stopped."""
        rec = self.running(name)
        if rec is None:
            self.pid_file(name).unlink(missing_ok=True)
            return False
        _signal_group(rec.pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _is_alive(rec) and not _group_alive(rec.pid):
                break
            time.sleep(0.2)
        else:
            _signal_group(rec.pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pid_file(name).unlink(missing_ok=True)
        return True

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_file(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _asdict(rec: ProcessRecord) -> dict[str, object]:
    return {f: getattr(rec, f) for f in rec.__slots__}


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_ports(ports: dict[str, int]) -> None:
    """Refuse to start when something that is not ours already listens where we would."""
    taken = {setting: port for setting, port in ports.items() if port_in_use(port)}
    if taken:
        listing = ", ".join(f"{port} ({setting})" for setting, port in taken.items())
        raise ConfigurationError(f"port already in use by another process: {listing}; stop it or choose another port")


def _is_alive(rec: ProcessRecord) -> bool:
    """Our own child: ask the kernel through Popen. One started by another invocation: check /proc."""
    child = _children.get(rec.pid)
    if child is not None:
        return child.poll() is None
    return _alive_with_marker(rec.pid, rec.marker)


def _alive_with_marker(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process is left in the process group."""
    _reap(pgid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child, so it does not linger as a zombie."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
