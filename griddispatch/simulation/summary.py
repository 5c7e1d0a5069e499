"""What happened to a set of reports, read from the database: the figures a demo or a load run ends with.

    scope = RunScope(since=started_at, client_ids=[...])       # reports these clients sent since then
    summary = await day_summary(conn, scope)

Only SQL here (the run's own read model; what it filters on, e.g. a deadline met in time or a rating, comes from
the table modules in shared/queries/); `summary_text.py` turns a `DaySummary` into lines. Dispatch's tables are
the truth: every report intake accepted is a `submissions` row; dispatch records each as a case (a merged one
too, in state `merged`); `case_events` holds every transition; `deadlines` every deadline with how many tiers
fired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from shared.domain.case.supervision_commands import SUPERVISE
from shared.domain.lifecycle import Action, DueKind
from shared.queries.action_requests import NOT_APPLIED
from shared.queries.case_events import RATINGS, SATISFIED
from shared.queries.deadlines import met_in_time

LEVELS = ("micro_grid", "grid", "community", "street", "district", "department")


@dataclass(frozen=True, slots=True)
class RunScope:
    """Which reports: those the given clients submitted since `since` (any client when None); or, for reports
    sent over Kafka (no intake submission), the cases whose number starts with `case_number_prefix`."""

    since: datetime
    client_ids: tuple[uuid.UUID, ...] | None = None
    case_number_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class DaySummary:
    received: int  # reports accepted by intake (or cases recorded, for a Kafka run)
    recorded: int  # of those, recorded by dispatch (opened or merged)
    opened: int  # new cases
    merged: int  # linked to an open case as duplicates
    dispatched: dict[str, int] = field(default_factory=dict)  # first assignment by level; departments apart
    accepted: int = 0
    accepted_in_time: int = 0
    resolved: int = 0
    resolved_in_time: int = 0
    warned: int = 0  # cases with at least one warning fired
    overdue: int = 0  # cases with a deadline that passed
    escalated: int = 0  # taken over (提级): the next rung leads
    supervised: int = 0  # supervised (督办) at a missed deadline instead: the lead stayed (the catalog's policy)
    returned: int = 0
    verify_failed: int = 0
    rated: int = 0
    satisfied: int = 0
    rejected_actions: int = 0  # actions dispatch refused (the audit trail's `rejected` entries)
    actions_pending: int = 0  # actions intake accepted that dispatch has not yet applied or refused
    open_deadlines: int = 0
    next_fire_at: datetime | None = None  # the next warning or deadline of those still open
    states: dict[str, int] = field(default_factory=dict)  # cases by current state

    @property
    def not_yet_recorded(self) -> int:
        return self.received - self.recorded

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


def _scope_cte(scope: RunScope) -> tuple[str, list[object]]:
    if scope.case_number_prefix is not None:
        return (
            "SELECT case_id FROM cases WHERE received_at >= $1 AND case_number LIKE $2 || '%'",
            [scope.since, scope.case_number_prefix],
        )
    return (
        "SELECT case_id FROM submissions WHERE received_at >= $1 AND ($2::uuid[] IS NULL OR client_id = ANY($2))",
        [scope.since, list(scope.client_ids) if scope.client_ids is not None else None],
    )


async def day_summary(conn: asyncpg.Connection, scope: RunScope) -> DaySummary:
    cte, args = _scope_cte(scope)
    head = f"WITH s AS ({cte}) "
    counts = await conn.fetchrow(
        head
        + """SELECT (SELECT count(*) FROM s) AS received,
                    count(c.case_id) AS recorded,
                    count(c.case_id) FILTER (WHERE c.merged_into IS NULL) AS opened,
                    count(c.case_id) FILTER (WHERE c.merged_into IS NOT NULL) AS merged
             FROM s JOIN cases c USING (case_id)""",
        *args,
    )
    dispatched = await conn.fetch(
        head
        + f""", first AS (
                 SELECT DISTINCT ON (e.case_id) e.detail->>'lead' AS lead, e.detail->>'level' AS level
                 FROM case_events e JOIN s USING (case_id) WHERE e.action = '{Action.ASSIGN}'
                 ORDER BY e.case_id, e.seq)
             SELECT CASE WHEN lead LIKE 'unit:%' THEN level ELSE 'department' END AS level, count(*) AS n
             FROM first GROUP BY 1""",
        *args,
    )
    deadlines = await conn.fetchrow(
        head
        + f"""SELECT
               count(DISTINCT d.case_id) FILTER (WHERE kind = '{DueKind.ACCEPT}' AND status = 'met') AS accepted,
               count(DISTINCT d.case_id) FILTER (WHERE kind = '{DueKind.ACCEPT}' AND {met_in_time()})
                   AS accepted_in_time,
               count(DISTINCT d.case_id) FILTER (WHERE kind = '{DueKind.RESOLVE}' AND status = 'met') AS resolved,
               count(DISTINCT d.case_id) FILTER (WHERE kind = '{DueKind.RESOLVE}' AND {met_in_time()})
                   AS resolved_in_time,
               count(DISTINCT d.case_id) FILTER (WHERE fired > 0 AND cardinality(warn_times) > 0) AS warned,
               count(DISTINCT d.case_id) FILTER (WHERE fired > cardinality(warn_times)) AS overdue,
               count(*) FILTER (WHERE status = 'open') AS open,
               min(next_fire_at) FILTER (WHERE status = 'open') AS next_fire_at
             FROM deadlines d JOIN s USING (case_id)""",
        *args,
    )
    events = {
        r["action"]: r["cases"]
        for r in await conn.fetch(
            head
            + f"""SELECT e.action, count(DISTINCT e.case_id) AS cases FROM case_events e JOIN s USING (case_id)
                 WHERE e.action IN ('{Action.ESCALATE}', '{Action.RETURN}', '{Action.VERIFY_FAILED}', 'rejected',
                                    '{SUPERVISE}')
                 GROUP BY e.action""",
            *args,
        )
    }
    ratings = await conn.fetchrow(
        head
        + f"""SELECT count(*) FILTER (WHERE e.action IN {RATINGS}) AS rated,
                    count(*) FILTER (WHERE e.action = {SATISFIED}) AS satisfied
             FROM case_events e JOIN s USING (case_id)""",
        *args,
    )
    rejected = await conn.fetchval(
        head + "SELECT count(*) FROM case_events e JOIN s USING (case_id) WHERE e.action = 'rejected'", *args
    )
    pending = await conn.fetchval(
        head + f"SELECT count(*) FROM action_requests a JOIN s USING (case_id) WHERE {NOT_APPLIED}",
        *args,
    )
    states = await conn.fetch(
        head + "SELECT c.state, count(*) AS n FROM s JOIN cases c USING (case_id) GROUP BY c.state", *args
    )
    return DaySummary(
        received=counts["received"],
        recorded=counts["recorded"],
        opened=counts["opened"],
        merged=counts["merged"],
        dispatched={r["level"]: r["n"] for r in dispatched},
        accepted=deadlines["accepted"],
        accepted_in_time=deadlines["accepted_in_time"],
        resolved=deadlines["resolved"],
        resolved_in_time=deadlines["resolved_in_time"],
        warned=deadlines["warned"],
        overdue=deadlines["overdue"],
        escalated=events.get("escalate", 0),
        supervised=events.get(SUPERVISE, 0),
        returned=events.get("return", 0),
        verify_failed=events.get("verify_failed", 0),
        rated=ratings["rated"],
        satisfied=ratings["satisfied"],
        rejected_actions=rejected,
        actions_pending=pending,
        open_deadlines=deadlines["open"],
        next_fire_at=deadlines["next_fire_at"],
        states={r["state"]: r["n"] for r in states},
    )


async def unaccepted_deadlines(conn: asyncpg.Connection, scope: RunScope) -> list[tuple[uuid.UUID, datetime]]:
    """The open accept-by deadlines of the run's cases (the cases nobody has accepted yet): id and due time."""
    cte, args = _scope_cte(scope)
    rows = await conn.fetch(
        f"""WITH s AS ({cte})
            SELECT d.deadline_id, d.due_at FROM deadlines d JOIN s USING (case_id)
            WHERE d.kind = '{DueKind.ACCEPT}' AND d.status = 'open' ORDER BY d.due_at""",
        *args,
    )
    return [(r["deadline_id"], r["due_at"]) for r in rows]


async def unfired_due(conn: asyncpg.Connection, scope: RunScope, late_s: float) -> int:
    """How many of the run's open deadlines have a tier that fell due more than `late_s` ago and has not fired:
    escalation fires each within seconds, so any at all means it is not running (or not keeping up)."""
    cte, args = _scope_cte(scope)
    count: int = await conn.fetchval(
        f"""WITH s AS ({cte})
            SELECT count(*) FROM deadlines d JOIN s USING (case_id)
            WHERE d.status = 'open' AND d.next_fire_at < now() - make_interval(secs => ${len(args) + 1})""",
        *args,
        late_s,
    )
    return count
