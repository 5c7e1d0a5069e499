"""Lines a person reads at the end of a demo or a load run. Pure: figures in, text out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from griddispatch.simulation.load import LoadResult, percentile
from griddispatch.simulation.summary import LEVELS, DaySummary

LEVEL_NAMES = {
    "micro_grid": "micro-grid",
    "grid": "grid",
    "community": "community",
    "street": "street",
    "district": "district",
    "department": "department",
}


def _of(part: int, whole: int) -> str:
    return f"{part} of {whole}" + (f" ({100 * part / whole:.0f}%)" if whole else "")


def scale_text(scale: float | None) -> str:
    """How deadlines count time: the real clock, or shortened by dispatch's deadline scale."""
    if scale is None:
        return "dispatch's deadline scale unknown"
    if scale == 1:
        return "on the real clock"
    return f"shortened x{scale:.6g} (1 hour of allowance = {3600 * scale:.1f} s)"


def summary_lines(
    s: DaySummary, now: datetime | None = None, tz: tzinfo = UTC, deadline_scale: float | None = 1.0
) -> list[str]:
    """The summary, one line per figure; with `now`, when the next open deadline fires."""
    pending = f"; {s.not_yet_recorded} not yet recorded by dispatch" if s.not_yet_recorded else ""
    lines = [
        f"received      {s.received} reports: {s.opened} cases opened, {s.merged} merged into an open case{pending}",
        "dispatched    "
        + ", ".join(f"{LEVEL_NAMES[lv]} {s.dispatched.get(lv, 0)}" for lv in LEVELS)
        + "  (first assignment; departments: a department or its branch leads)",
        f"accepted      {s.accepted} cases, in time: {_of(s.accepted_in_time, s.accepted)}",
        f"resolved      {s.resolved} cases, in time: {_of(s.resolved_in_time, s.resolved)}",
        f"warned        {s.warned} cases; overdue {s.overdue}; escalated {s.escalated}"
        + (f"; supervised {s.supervised} (督办: the lead stayed, a supervision order issued)" if s.supervised else ""),
        f"returned      {s.returned} cases (re-dispatched); failed verification {s.verify_failed}",
        f"merged        {s.merged} duplicate reports linked to an open case",
        f"rated         {s.rated} ratings"
        + (f", satisfied {_of(s.satisfied, s.rated)}" if s.rated else "")
        + (f"; {s.rejected_actions} actions refused by the lifecycle" if s.rejected_actions else "")
        + (f"; {s.actions_pending} actions not yet applied by dispatch" if s.actions_pending else ""),
    ]
    if now is not None and s.next_fire_at is not None:
        minutes = max(0.0, (s.next_fire_at - now).total_seconds() / 60)
        lines.append(
            f"deadlines     {s.open_deadlines} open, {scale_text(deadline_scale)}: the next warning or "
            f"deadline fires at {s.next_fire_at.astimezone(tz):%H:%M:%S} {tz} (in {_until(minutes)})"
        )
    if s.states:
        lines.append(
            "now           " + ", ".join(f"{k} {v}" for k, v in sorted(s.states.items(), key=lambda kv: -kv[1]))
        )
    return lines


def _until(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes >= 2 else f"{minutes * 60:.0f} s"


def where_to_look(intake_url: str, metrics_urls: Mapping[str, str], logs_dir: str, keys_file: str) -> list[str]:
    lines = [
        f"console       {intake_url}/console/ (使用 API 密钥: the 'supervisor' key in {keys_file})",
        f"API docs      {intake_url}/docs",
    ]
    lines += [f"metrics       {name:10} {url}/metrics" for name, url in metrics_urls.items()]
    lines.append(f"logs          {logs_dir}/<service>.log (JSON lines with case_id)")
    return lines


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def load_lines(r: LoadResult, via: str) -> list[str]:
    achieved = r.accepted / r.elapsed_s if r.elapsed_s else 0.0
    what = "202" if via == "http" else "broker ack"
    rejected = ", ".join(f"{k}: {v}" for k, v in sorted(r.rejected.items())) or "none"
    mix = ", ".join(f"{k} {v}" for k, v in sorted(r.by_source.items()))
    return [
        f"offered       {r.offered_rate:g}/s for {r.duration_s:g} s over {via} ({mix})",
        f"sent          {r.sent}",
        f"accepted      {r.accepted}",
        f"rejected      {sum(r.rejected.values())} ({rejected})",
        f"shed          {r.shed} (more than the in-flight limit waiting)",
        f"achieved      {achieved:.1f} accepted/s over {r.elapsed_s:.1f} s",
        f"latency       p50 {_ms(percentile(r.latencies_s, 50))}, p99 {_ms(percentile(r.latencies_s, 99))}, "
        f"max {_ms(max(r.latencies_s, default=None))} (to the {what}, from the scheduled moment)",
    ]


def unfired_warning(unfired: int, late_s: float) -> str | None:
    """The line that says the system's purpose failed: deadlines fell due and nothing fired them."""
    if unfired <= 0:
        return None
    return (
        f"WARNING: {unfired} deadlines due more than {late_s:.0f} s ago have not fired: is escalation running? "
        "(`griddispatch status`; its log: .local/logs/escalation.log)"
    )
