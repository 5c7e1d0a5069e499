"""`griddispatch simulate` (open-loop load) and `griddispatch demo replay` (a realistic day at a speed-up)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import typer

from griddispatch.console import fail, friendly
from griddispatch.params import http_url, not_negative, number_in, one_of, positive, source_mix, whole, whole_in
from griddispatch.simulation.summary import DaySummary, RunScope, day_summary
from shared.settings import (
    SERVICE_NAMES,
    DatabaseSettings,
    DistrictSettings,
    KafkaSettings,
    LocalInfraSettings,
    ServiceSettings,
)

demo_app = typer.Typer(
    help="The demonstration: a realistic day of reports replayed at a speed-up.", no_args_is_help=True
)

DEFAULT_MIX = "hotline=0.6,grid_app=0.3,camera=0.1"
SETTLE_S = 30.0  # the longest the summary waits for dispatch to record what intake accepted
DEADLINE_GRACE_S = 35.0  # past a due time, for escalation (which sleeps at most 30 s) and dispatch to act on it
UNFIRED_LATE_S = DEADLINE_GRACE_S  # a tier due longer ago than this and not fired: escalation is not at work


def _intake_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    services = ServiceSettings()
    return f"http://{services.host}:{services.intake_port}"


@asynccontextmanager
async def _database() -> AsyncIterator[asyncpg.Connection]:
    from shared.db import migrate
    from shared.db.pool import connect

    conn = await connect(DatabaseSettings())
    try:
        await migrate(conn)
        yield conn
    finally:
        await conn.close()


async def _registry(conn: asyncpg.Connection | None, directory: Path | None) -> Any:
    from shared.registry_files.load import load_directory
    from shared.registry_store import load_active

    if directory is not None:
        return load_directory(directory)
    assert conn is not None, "without a registry directory, the active registry is read from the database"
    return await load_active(conn)


async def _check_intake(http: httpx.AsyncClient, url: str) -> None:
    try:
        ready = await http.get("/readyz", timeout=5)
    except httpx.HTTPError as exc:
        fail(f"intake does not answer at {url} ({type(exc).__name__}); start it with `griddispatch up`")
    if ready.status_code != 200:
        fail(f"intake at {url} is not ready ({ready.status_code}): {ready.text[:200]}")


async def _settled_summary(conn: asyncpg.Connection, scope: RunScope, wait_s: float, expect: int = 0) -> DaySummary:
    """The summary once dispatch has recorded every accepted report (at least `expect` of them) and applied
    every accepted action, or once `wait_s` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        summary = await day_summary(conn, scope)
        settled = summary.not_yet_recorded <= 0 and summary.actions_pending <= 0 and summary.recorded >= expect
        if settled or time.monotonic() >= deadline:
            return summary
        await asyncio.sleep(0.5)


def _seed(seed: int | None) -> int:
    return seed if seed is not None else random.SystemRandom().randrange(1_000_000)


# --- griddispatch simulate -------------------------------------------------------------------------------


@friendly
def simulate(
    rate: Annotated[float, typer.Option(parser=positive, help="reports per second offered (open loop)")] = 10.0,
    duration: Annotated[float, typer.Option(parser=positive, help="seconds to offer them for")] = 10.0,
    mix: Annotated[
        str, typer.Option(parser=source_mix, help="source shares, e.g. hotline=0.6,grid_app=0.3,camera=0.1")
    ] = DEFAULT_MIX,
    via: Annotated[
        str,
        typer.Option(
            parser=one_of("http", "kafka"),
            help="http (POST /v1/reports) or kafka (ReportSubmitted on the reports topic)",
        ),
    ] = "http",
    seed: Annotated[
        int | None,
        typer.Option(parser=whole, help="the same seed sends the same reports (default: a new one, printed)"),
    ] = None,
    url: Annotated[str | None, typer.Option(parser=http_url, help="intake's base URL (default: from settings)")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="a key with the submit scope (default: a client made for the run)")
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="registry directory to draw places and matters from (default: the active one)",
        ),
    ] = None,
    max_in_flight: Annotated[
        int, typer.Option(parser=whole_in(1), help="requests waiting at once before new ones are shed")
    ] = 256,
    wait: Annotated[
        float, typer.Option(parser=not_negative, help="then wait up to this many seconds for dispatch and summarise")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Open-loop load: RATE reports a second for DURATION seconds, drawn like the demo's day; prints sent,
    accepted, rejected, the achieved rate and the latency p50/p99 of the answer."""
    from griddispatch.simulation.day import parse_mix

    shares = parse_mix(mix)
    seed = _seed(seed)
    out = asyncio.run(_simulate(rate, duration, shares, via, seed, url, api_key, registry, max_in_flight, wait))
    if as_json:
        typer.echo(json.dumps(out["json"], ensure_ascii=False, indent=2, default=str))
        return
    for line in out["lines"]:
        typer.echo(line)


async def _simulate(
    rate: float,
    duration: float,
    shares: dict[str, float],
    via: str,
    seed: int,
    url: str | None,
    api_key: str | None,
    registry_dir: Path | None,
    max_in_flight: int,
    wait: float,
) -> dict[str, Any]:
    from griddispatch.simulation.api import IntakeApi
    from griddispatch.simulation.clients import RATE_PER_MIN
    from griddispatch.simulation.load import http_sender, kafka_sender, run_load
    from griddispatch.simulation.reports import ReportFactory
    from griddispatch.simulation.summary_text import load_lines, summary_lines
    from shared.api_clients import create_client
    from shared.kafka import kafka_producer
    from shared.topics import Topics

    run = f"{datetime.now(UTC):%H%M%S}{uuid.uuid4().hex[:4]}"
    # the database only when something needs it: a load against a remote intake needs just a key and files
    needs_db = registry_dir is None or (via == "http" and api_key is None) or wait > 0
    async with AsyncExitStack() as resources:
        conn = await resources.enter_async_context(_database()) if needs_db else None
        loaded = await _registry(conn, registry_dir)
        factory = ReportFactory(loaded.registry, loaded.catalog)
        client_ids: tuple[uuid.UUID, ...] | None = None
        if via == "http" and api_key is None and conn is not None:
            client, api_key = await create_client(
                conn, name=f"griddispatch simulate {run}", scopes=["submit", "read"], units=["*"],
                rate_per_min=RATE_PER_MIN,
            )  # fmt: skip
            client_ids = (client.id,)
        if via == "http":
            base = _intake_url(url)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
                await _check_intake(http, base)
                keys = dict.fromkeys(shares, api_key or "")
                result = await run_load(
                    factory, shares, http_sender(IntakeApi(http), keys, run),
                    rate=rate, duration_s=duration, seed=seed, max_in_flight=max_in_flight,
                )  # fmt: skip
            scope = RunScope(since=result.started_at, client_ids=client_ids)
        else:
            kafka = KafkaSettings()
            async with kafka_producer(kafka) as producer:
                sender = kafka_sender(producer, Topics(kafka.topic_prefix).reports, run)
                result = await run_load(
                    factory, shares, sender, rate=rate, duration_s=duration, seed=seed, max_in_flight=max_in_flight
                )
            scope = RunScope(since=result.started_at, case_number_prefix=f"SIM-{run}-")
        lines = [*load_lines(result, via), f"seed          {seed}"]
        figures: dict[str, Any] = {
            "run": run,
            "seed": seed,
            "via": via,
            "sent": result.sent,
            "accepted": result.accepted,
            "rejected": dict(result.rejected),
            "shed": result.shed,
            "elapsed_s": result.elapsed_s,
            "achieved_per_s": result.accepted / result.elapsed_s if result.elapsed_s else 0.0,
            "latency_p50_ms": _ms(result.latencies_s, 50),
            "latency_p99_ms": _ms(result.latencies_s, 99),
            "by_source": dict(result.by_source),
            "started_at": result.started_at.isoformat(),
            "client_id": str(client_ids[0]) if client_ids else None,
        }
        if conn is not None and wait > 0 and (client_ids is not None or via == "kafka"):
            summary = await _settled_summary(conn, scope, wait, expect=result.accepted)
            lines += ["", *summary_lines(summary)]
            figures["summary"] = asdict(summary)
        elif wait > 0:
            lines.append("(no summary: with --api-key the reports cannot be told apart from the key's others)")
    return {"lines": lines, "json": figures}


def _ms(latencies: list[float], q: float) -> float | None:
    from griddispatch.simulation.load import percentile

    value = percentile(latencies, q)
    return None if value is None else round(value * 1000, 2)


# --- griddispatch demo replay ----------------------------------------------------------------------------


@demo_app.command("replay")
@friendly
def replay(
    speedup: Annotated[
        float, typer.Option(parser=positive, help="simulated seconds per real second (480: a day in 3 minutes)")
    ] = 480.0,
    hours: Annotated[
        float, typer.Option(parser=number_in(0, 24, low_open=True), help="hours of the day to replay")
    ] = 24.0,
    start_hour: Annotated[
        float, typer.Option(parser=number_in(0, 24, high_open=True), help="local hour the replay starts at")
    ] = 0.0,
    scale: Annotated[float, typer.Option(parser=positive, help="multiply the day's volume")] = 1.0,
    seed: Annotated[
        int | None,
        typer.Option(
            parser=whole,
            help="the same seed replays the same day (default: a new one, printed; the same day replayed "
            "again lands on the last one's open cases and is merged into them)",
        ),
    ] = None,
    tail_hours: Annotated[
        float | None,
        typer.Option(
            parser=not_negative, help="simulated hours after the day for the actor to finish (default: hours/4)"
        ),
    ] = None,
    url: Annotated[str | None, typer.Option(parser=http_url, help="intake's base URL (default: from settings)")] = None,
    registry: Annotated[
        Path | None, typer.Option(exists=True, file_okay=False, help="registry directory (default: the active one)")
    ] = None,
    deadline_scale: Annotated[
        float | None,
        typer.Option(
            parser=number_in(0, 1, low_open=True),
            help="the deadline scale dispatch should run with (default 1/speedup, what `make demo` starts it with); "
            "the replay warns if dispatch's differs",
        ),
    ] = None,
    dispatch_url: Annotated[
        str | None,
        typer.Option(parser=http_url, help="dispatch's base URL, to read its deadline scale (default: from settings)"),
    ] = None,
    deadline_wait: Annotated[
        float,
        typer.Option(
            parser=not_negative,
            help="after the day, wait at most this many seconds for the shortened accept-by of cases nobody "
            "accepted to fall due and escalate (0: summarise at once)",
        ),
    ] = 240.0,
) -> None:
    """Replay a realistic day of hotline, app, camera and department reports, with grid workers, departments,
    the command centre and residents acting on the cases; then summarise it from the database.

    Deadlines fall due within the replay only if dispatch shortens them by 1/speedup
    (GRIDDISPATCH_DISPATCH_DEADLINE_SCALE, which `make demo` sets); the replay says so when it does not."""
    from griddispatch.simulation.day import plan_day
    from griddispatch.simulation.reports import ReportFactory
    from griddispatch.simulation.shape import DayShape

    expected = 1 / speedup if deadline_scale is None else deadline_scale
    if expected > 1:
        fail(f"--speedup {speedup:g} slows the day down: give --deadline-scale (above 0, at most 1) with it")
    tail = hours / 4 if tail_hours is None else tail_hours
    day_seed = _seed(seed)
    typer.echo(f"seed {day_seed} (--seed {day_seed} replays this day again)")

    async def go() -> list[str]:
        async with _database() as conn:
            loaded = await _registry(conn, registry)
            factory = ReportFactory(loaded.registry, loaded.catalog, DayShape(scale=scale))
            plan = plan_day(factory, random.Random(day_seed), hours=hours, start_hour=start_hour)
            waits = _Waits(expected, _dispatch_url(dispatch_url), deadline_wait)
            return await _replay(conn, loaded.registry, plan, speedup, tail * 3600, url, waits)

    for line in asyncio.run(go()):
        typer.echo(line)


@dataclass(frozen=True, slots=True)
class _Waits:
    expected_scale: float
    dispatch_url: str
    deadline_wait_s: float


def _dispatch_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    services = ServiceSettings()
    return f"http://{services.host}:{services.dispatch_port}"


async def _await_unaccepted(conn: asyncpg.Connection, scope: RunScope, cap_s: float) -> list[str]:
    """Wait (at most `cap_s`) until the accept-by of every case still unaccepted has fired; what is left, said."""
    from griddispatch.simulation.summary import unaccepted_deadlines
    from griddispatch.simulation.timescale import tail_wait_s
    from shared.queries.deadlines import not_yet_fired

    dues = await unaccepted_deadlines(conn, scope)
    wait = tail_wait_s([d for _, d in dues], datetime.now(UTC), DEADLINE_GRACE_S, cap_s)
    if wait <= 0:
        return []
    ids = [i for i, _ in dues]
    typer.echo(
        f"waiting (at most {wait:.0f} s) for the shortened accept-by of {len(ids)} cases nobody accepted "
        "to fall due and escalate ..."
    )
    end = time.monotonic() + wait
    while True:
        left = await not_yet_fired(conn, ids)
        if not left or time.monotonic() >= end:
            break
        await asyncio.sleep(1.0)
    if not left:
        return []
    latest = max(d for _, d in dues)
    return [
        f"pending       {left} of the {len(ids)} accept-by deadlines open at the end of the day not yet fired "
        f"(the last due {latest.astimezone(UTC):%H:%M:%S} UTC); `griddispatch demo summary` shows them later"
    ]


async def _replay(
    conn: asyncpg.Connection,
    registry: Any,
    plan: Any,
    speedup: float,
    tail_s: float,
    url: str | None,
    waits: _Waits,
) -> list[str]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from griddispatch.simulation.actor import ActorKeys, DayActor
    from griddispatch.simulation.api import IntakeApi
    from griddispatch.simulation.clients import ensure_clients
    from griddispatch.simulation.replay import ReplayProgress, replay
    from griddispatch.simulation.runs import save_run
    from griddispatch.simulation.summary import unfired_due
    from griddispatch.simulation.summary_text import scale_text, summary_lines, unfired_warning
    from griddispatch.simulation.timescale import dispatch_scale, scale_mismatch

    local = LocalInfraSettings()
    clients = await ensure_clients(conn, local.dir / "demo" / "clients.json")
    base = _intake_url(url)
    run = f"{datetime.now(UTC):%y%m%d%H%M}{uuid.uuid4().hex[:4]}"
    real_s = (plan.duration_s + tail_s) / speedup
    typer.echo(
        f"replaying {len(plan.reports)} reports of {plan.hours:g} hours from {plan.start_hour:02.0f}:00 at "
        f"{speedup:g}x against {base}: about {real_s / 60:.1f} minutes"
    )
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        await _check_intake(http, base)
        actual_scale = await dispatch_scale(http, waits.dispatch_url)
        mismatch = scale_mismatch(waits.expected_scale, actual_scale, waits.dispatch_url)
        if mismatch is not None:
            typer.secho(mismatch, fg=typer.colors.YELLOW, bold=True)
        else:
            typer.echo(f"deadlines {scale_text(actual_scale)}, as this speed-up needs")
        api = IntakeApi(http)
        sources = ("hotline", "grid_app", "camera", "department")
        keys = ActorKeys(
            worker=clients["worker"].key,
            supervisor=clients["supervisor"].key,
            residents={s: clients[s].key for s in sources},
        )
        actor = DayActor(api, keys, registry, run)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"), TimeRemainingColumn()
        ) as bar:
            task = bar.add_task("day 00:00", total=plan.duration_s + tail_s, counts="")

            def show(p: ReplayProgress) -> None:
                clock = (plan.start_hour * 3600 + p.sim_elapsed_s) % 86400
                rejected = sum(p.rejected.values())
                bar.update(
                    task,
                    completed=p.sim_elapsed_s,
                    description=f"day {int(clock // 3600):02d}:{int(clock % 3600 // 60):02d}",
                    counts=f"sent {p.sent}/{len(plan.reports)}, accepted {p.accepted}, rejected {rejected}, "
                    f"followed {p.following}",
                )

            result = await replay(
                plan, api, {s: clients[s].key for s in sources}, actor,
                speedup=speedup, run=run, tail_s=tail_s, on_progress=show,
            )  # fmt: skip
    scope = RunScope(since=result.started_at, client_ids=tuple(clients[s].id for s in sources))
    save_run(local.dir / "demo" / "last-run.json", scope)
    typer.echo(f"waiting (at most {SETTLE_S:.0f} s) for dispatch to apply what was sent ...")
    summary = await _settled_summary(conn, scope, SETTLE_S)
    pending: list[str] = []
    if actual_scale is not None and actual_scale < 1 and waits.deadline_wait_s > 0:
        pending = await _await_unaccepted(conn, scope, waits.deadline_wait_s)
        summary = await _settled_summary(conn, scope, SETTLE_S)
    unfired = unfired_warning(await unfired_due(conn, scope, UNFIRED_LATE_S), UNFIRED_LATE_S)
    acted = ", ".join(f"{k} {v}" for k, v in sorted(actor.stats.actions.items()))
    refused = sum(actor.stats.refused.values())
    stats = actor.stats
    lines = [
        "",
        f"the day, from the database ({(result.finished_at - result.started_at).total_seconds():.0f} s real time):",
        *summary_lines(summary, datetime.now(UTC), ZoneInfo(DistrictSettings().timezone), actual_scale),
        *pending,
        *([unfired] if unfired else []),
        f"actor         {acted}"
        + (
            f"; {refused} refused by intake ({', '.join(f'{k}: {v}' for k, v in stats.refused.items())})"
            if refused
            else ""
        ),
        f"              {stats.steps} looks at a case, {stats.polls} found dispatch still busy, "
        f"{result.progress.following} cases still being followed when the replay ended"
        + (f"; failed steps: {dict(result.progress.errors)}" if result.progress.errors else ""),
        "              see later warnings and escalations with `griddispatch demo summary`",
        "",
        *_where(base),
    ]
    return lines


def _where(intake_url: str) -> list[str]:
    from griddispatch.simulation.summary_text import where_to_look

    services = ServiceSettings()
    metrics: dict[str, str] = {n: f"http://{services.host}:{services.port_of(n)}" for n in SERVICE_NAMES}
    local = LocalInfraSettings().dir
    return where_to_look(intake_url, metrics, str(local / "logs"), str(local / "demo" / "clients.json"))


@demo_app.command("summary")
@friendly
def summary(
    url: Annotated[str | None, typer.Option(parser=http_url, help="intake's base URL, for the links")] = None,
    dispatch_url: Annotated[
        str | None,
        typer.Option(parser=http_url, help="dispatch's base URL, to read its deadline scale (default: from settings)"),
    ] = None,
) -> None:
    """The last replay's summary as the database has it now: warnings and escalations that came due since."""
    from griddispatch.simulation.runs import load_run
    from griddispatch.simulation.summary import unfired_due
    from griddispatch.simulation.summary_text import summary_lines, unfired_warning
    from griddispatch.simulation.timescale import dispatch_scale

    async def go() -> tuple[DaySummary, float | None, int]:
        scope = load_run(LocalInfraSettings().dir / "demo" / "last-run.json")
        async with httpx.AsyncClient() as http:
            scale = await dispatch_scale(http, _dispatch_url(dispatch_url))
        async with _database() as conn:
            return await day_summary(conn, scope), scale, await unfired_due(conn, scope, UNFIRED_LATE_S)

    figures, scale, unfired = asyncio.run(go())
    for line in summary_lines(figures, datetime.now(UTC), ZoneInfo(DistrictSettings().timezone), scale):
        typer.echo(line)
    if (warning := unfired_warning(unfired, UNFIRED_LATE_S)) is not None:
        typer.secho(warning, fg=typer.colors.YELLOW, bold=True)
    for line in ["", *_where(_intake_url(url))]:
        typer.echo(line)
