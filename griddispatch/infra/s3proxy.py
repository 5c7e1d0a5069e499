"""S3Proxy, a real S3-compatible server on a local directory, from Maven Central's jar and the system's Java.

The object-store tests start it (tests/s3_fixtures.py) and stop what they started; production uses a real
object store (docs/storage.md). Started like the Kafka broker (kafka.py): the jar is fetched once through
Maven into the local cache, the process recorded by pid file.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from griddispatch.infra.kafka import java
from griddispatch.infra.maven import fetch_runtime_jars
from griddispatch.infra.processes import Processes, ProcessRecord, require_free_ports
from shared.errors import ConfigurationError, InfrastructureUnavailable
from shared.settings import PROJECT_ROOT, LocalInfraSettings

NAME = "s3proxy"
POM = PROJECT_ROOT / "deploy" / "s3proxy" / "pom.xml"
MAIN = "org.gaul.s3proxy.Main"


@dataclass(frozen=True, slots=True)
class S3Server:
    """Where a started S3Proxy answers and the credentials it takes."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def jar_dir(local: LocalInfraSettings) -> Path:
    return local.cache_dir / f"s3proxy-{local.s3proxy_version}"


def ensure_jar(local: LocalInfraSettings) -> Path:
    """Download S3Proxy's self-contained jar once through Maven; later calls find it cached."""
    libs = fetch_runtime_jars(
        "S3Proxy", POM, {"s3proxy.version": local.s3proxy_version}, jar_dir(local), "s3proxy-*.jar"
    )
    return _the_jar(libs)


def _the_jar(libs: Path) -> Path:
    jars = sorted(libs.glob("s3proxy-*.jar"))
    if not jars:
        raise ConfigurationError(f"no S3Proxy jar in {libs}: remove the directory to fetch it again")
    return jars[0]


def properties(port: int, basedir: Path, server: S3Server) -> str:
    return "\n".join(
        [
            "# Written by griddispatch: S3Proxy on loopback, buckets as directories under basedir.",
            f"s3proxy.endpoint=http://127.0.0.1:{port}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={server.access_key}",
            f"s3proxy.credential={server.secret_key}",
            "jclouds.provider=filesystem",
            f"jclouds.filesystem.basedir={basedir}",
            "",
        ]
    )


def start(
    local: LocalInfraSettings, processes: Processes, home: Path, access_key: str, secret_key: str
) -> tuple[ProcessRecord, S3Server]:
    """Start S3Proxy with its buckets under `home`/data unless ours already runs there; idempotent."""
    port = local.s3proxy_port
    server = S3Server(endpoint=f"http://127.0.0.1:{port}", access_key=access_key, secret_key=secret_key)
    current = processes.running(NAME)
    if current is not None:
        return current, server
    require_free_ports({"GRIDDISPATCH_LOCAL_S3PROXY_PORT": port})
    jar = ensure_jar(local)
    basedir = home / "data"
    basedir.mkdir(parents=True, exist_ok=True)
    config = home / "s3proxy.conf"
    config.write_text(properties(port, basedir, server))
    argv = [java(), "-Xmx256m", "-Djava.awt.headless=true", "-jar", str(jar), "--properties", str(config)]
    record = processes.start(NAME, argv, marker=str(config), url=server.endpoint, cwd=home)
    return record, server


async def wait_ready(local: LocalInfraSettings, processes: Processes, server: S3Server) -> None:
    """Wait until it answers HTTP (an anonymous request is refused, which is an answer)."""
    deadline = time.monotonic() + local.start_timeout_s
    last: Exception | None = None
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if processes.exited_early(NAME):
                raise InfrastructureUnavailable(
                    f"S3Proxy exited during start (exit status {processes.exit_code(NAME)}); "
                    f"{processes.log_file(NAME)} says:\n{processes.tail(NAME)}"
                )
            try:
                await http.get(server.endpoint + "/")
                return
            except httpx.HTTPError as exc:
                last = exc
                await asyncio.sleep(0.2)
    raise InfrastructureUnavailable(f"S3Proxy did not answer in {local.start_timeout_s:.0f}s: {last}")
