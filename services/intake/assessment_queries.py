"""The SQL behind assessment (考核): one statement per table asked for, whatever the number of units.

The cases counted are the period's cohort, as for statistics: received in [start, end) on the district's
clock, not merged, visible to the caller. What each figure reads is in docs/people.md#assessment-考核:

* units, departments and branches, from `deadlines` (the party that owed the accept-by, resolve-by or
  report-in) and `case_events` (who escalated from, who returned, who resolved before a rating); a street or
  community is the roll-up of every unit below it, each case counted once;
* persons, from the actions they took (`case_events.actor.id` of accept, resolve and return as the lead) and
  the cases they were named responsible for (assign, claim, hand_over, reassign; `cases.lead_person`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from services.intake.area import ACTIVE
from services.intake.case_facts import HANDLING_KINDS
from services.intake.stats_queries import AREA
from shared.domain.assessment import Figures, Subject
from shared.domain.lifecycle import Action, DueKind, State
from shared.queries.case_events import RATINGS, SATISFIED
from shared.queries.deadlines import fell_due, met_in_time
from shared.queries.visibility import visible

Level = Literal["street", "community", "grid", "department", "branch", "person"]
TERRITORIAL = ("street", "community", "grid")
URGE = "urge"  # the reason_code of a comment that urges the case on (催办)
NAMED = "named"  # in the persons' statement: the person was named responsible for the case

_ORDER_COLUMNS = """coalesce(orders_issued, 0) AS orders_issued, coalesce(orders_answered, 0) AS orders_answered,
        coalesce(orders_answered_in_time, 0) AS orders_answered_in_time"""
_CLOCK_COLUMNS = """coalesce(extensions_asked, 0) AS extensions_asked,
        coalesce(extensions_approved, 0) AS extensions_approved, coalesce(suspensions, 0) AS suspensions,
        coalesce(suspended_seconds, 0)::float8 AS suspended_seconds"""


def _clock(key: str, alias: str) -> str:
    """The clock's figures (延期, 挂起) per `key` of the party (unit) or person the lead's requests were for:
    extensions asked and approved, suspensions approved, suspended time (resumed, or until now)."""
    return f"""
    {alias} AS (
        SELECT key AS {"bucket" if key == "unit" else "person"},
            count(*) FILTER (WHERE action = '{Action.REQUEST_EXTENSION}') AS extensions_asked,
            count(*) FILTER (WHERE action = '{Action.DECIDE_EXTENSION}' AND approved) AS extensions_approved,
            count(*) FILTER (WHERE action = '{Action.DECIDE_SUSPENSION}' AND approved) AS suspensions,
            coalesce(sum(seconds), 0) AS suspended_seconds
        FROM (
            SELECT {"p.bucket" if key == "unit" else "coalesce(e.detail->>'asked_person', e.actor->>'id')"} AS key,
                e.action, coalesce((e.detail->>'approved')::boolean, false) AS approved,
                CASE WHEN e.action = '{Action.RESUME}' THEN (e.detail->>'suspended_s')::float8 END AS seconds
            FROM case_events e JOIN cohort USING (case_id)
            JOIN parties p ON p.party = coalesce(e.detail->>'asked_by', e.detail->>'lead', e.detail->>'by')
            WHERE e.action IN ('{Action.REQUEST_EXTENSION}', '{Action.DECIDE_EXTENSION}',
                               '{Action.DECIDE_SUSPENSION}', '{Action.RESUME}')
            UNION ALL  -- still suspended: until now
            SELECT {"p.bucket" if key == "unit" else "c.clock->'suspended'->'asked'->>'person'"}, NULL, false,
                extract(epoch FROM now() - (c.clock->'suspended'->>'since')::timestamptz)::float8
            FROM cases c JOIN cohort USING (case_id) JOIN parties p ON p.party = c.clock->'suspended'->'asked'->>'by'
            WHERE c.clock ? 'suspended'
        ) k WHERE key IS NOT NULL GROUP BY key
    )"""


# Which party strings count for which row: the bucket is the row's code.
_PARTIES = {
    "territorial": "SELECT 'unit:' || code, bucket FROM tree WHERE bucket IS NOT NULL",
    "department": f"""SELECT 'department:' || code, code FROM registry_departments WHERE version_id = {ACTIVE}
        UNION ALL SELECT 'branch:' || code, department FROM registry_branches WHERE version_id = {ACTIVE}""",
    "branch": f"SELECT 'branch:' || code, code FROM registry_branches WHERE version_id = {ACTIVE}",
    # a person is counted for what they did for any unit of the area (departments too, over a whole district)
    "person": f"""SELECT DISTINCT 'unit:' || code, code FROM tree
        UNION ALL SELECT 'department:' || code, code FROM registry_departments
                  WHERE version_id = {ACTIVE} AND EXISTS (SELECT 1 FROM tree WHERE level = 'district')
        UNION ALL SELECT 'branch:' || code, code FROM registry_branches
                  WHERE version_id = {ACTIVE} AND EXISTS (SELECT 1 FROM tree WHERE level = 'district')""",
}

_COHORT = f""",
    parties (party, bucket) AS ({{parties}}),
    cohort AS (
        SELECT c.case_id FROM cases c
        WHERE c.received_at >= $3 AND c.received_at < $4 AND c.state <> '{State.MERGED}'
          AND {visible("$5", "c.scope_keys")}
    )"""

_WRONGLY_RETURNED = f"""EXISTS (
    SELECT 1 FROM case_events a WHERE a.case_id = {{e}}.case_id AND a.seq > {{e}}.seq AND a.action = '{Action.ASSIGN}'
      AND a.detail->>'by_hand' = 'true' AND a.detail->>'to' = {{unit}})"""

# Each rating of the cohort with the actor of the case's latest resolve before it: one join, by hash
_RATED_BY = f"""
    rated_by AS MATERIALIZED (
        SELECT DISTINCT ON (r.case_id, r.seq) r.case_id, r.seq, r.action, s.actor
        FROM case_events r JOIN cohort USING (case_id)
        JOIN case_events s ON s.case_id = r.case_id AND s.seq < r.seq AND s.action = '{Action.RESOLVE}'
        WHERE r.action IN {RATINGS}
        ORDER BY r.case_id, r.seq, s.seq DESC
    )"""

UNIT_FIGURES = f"""{AREA}{_COHORT},
    dl AS MATERIALIZED (
        SELECT p.bucket, d.case_id, d.kind, d.status, d.starts_at, d.due_at, d.closed_at
        FROM deadlines d JOIN cohort USING (case_id) JOIN parties p ON p.party = d.party
        WHERE d.kind = ANY($6::text[])
    ),
    ev AS MATERIALIZED (
        SELECT e.case_id, e.seq, e.action, e.actor, e.detail, e.at FROM case_events e JOIN cohort USING (case_id)
        WHERE e.action IN ('{Action.ESCALATE}', '{Action.RETURN}', '{Action.COMMENT}', '{Action.URGE}',
                           '{Action.SUPERVISE_ORDER}', '{Action.REPLY_ORDER}', '{Action.REPORT_UP}')
    ),
    f_dl AS (
        SELECT bucket,
            count(DISTINCT case_id) FILTER (WHERE kind = '{DueKind.ACCEPT}') AS received,
            count(DISTINCT case_id) FILTER (WHERE kind = '{DueKind.ACCEPT}' AND {met_in_time("dl")})
                AS accepted_on_time,
            count(DISTINCT case_id) FILTER (WHERE kind = '{DueKind.RESOLVE}' AND {met_in_time("dl")})
                AS resolved_on_time,
            count(DISTINCT case_id) FILTER (WHERE {fell_due("dl")}) AS overdue,
            coalesce(sum(extract(epoch FROM closed_at - starts_at))
                     FILTER (WHERE kind = '{DueKind.ACCEPT}' AND status = 'met'), 0) AS accept_seconds_total,
            count(*) FILTER (WHERE kind = '{DueKind.ACCEPT}' AND status = 'met') AS accepts_timed,
            coalesce(sum(extract(epoch FROM closed_at - starts_at))
                     FILTER (WHERE kind = '{DueKind.RESOLVE}' AND status = 'met'), 0) AS resolve_seconds_total,
            count(*) FILTER (WHERE kind = '{DueKind.RESOLVE}' AND status = 'met') AS resolves_timed
        FROM dl GROUP BY bucket
    ),
    f_esc AS (
        SELECT p.bucket, count(DISTINCT e.case_id) AS escalated
        FROM ev e JOIN parties p ON p.party = e.detail->>'from' WHERE e.action = '{Action.ESCALATE}' GROUP BY 1
    ),
    f_ret AS (
        SELECT p.bucket, count(DISTINCT e.case_id) AS returned,
            count(DISTINCT e.case_id) FILTER (WHERE {_WRONGLY_RETURNED.format(e="e", unit="e.actor->>'unit'")})
                AS wrongly_returned
        FROM ev e JOIN parties p ON p.party = e.actor->>'unit' WHERE e.action = '{Action.RETURN}' GROUP BY 1
    ),
    f_urge AS (  -- a comment that urges: the party owing a deadline then; an urge (催办): the party it names
        SELECT bucket, count(DISTINCT k) AS urged FROM (
            SELECT d.bucket, e.case_id::text || ':' || e.seq AS k
            FROM ev e JOIN dl d ON d.case_id = e.case_id AND d.starts_at <= e.at
                               AND (d.closed_at IS NULL OR d.closed_at > e.at)
            WHERE e.action = '{Action.COMMENT}' AND e.detail->>'reason_code' = '{URGE}'
            UNION ALL
            SELECT p.bucket, e.case_id::text || ':' || e.seq
            FROM ev e JOIN parties p ON p.party = e.detail->>'to' WHERE e.action = '{Action.URGE}'
        ) u GROUP BY 1
    ),
    f_ord AS (  -- supervision orders (督办单) issued to the party, and its replies (late: after the reply-by)
        SELECT p.bucket,
            count(DISTINCT e.case_id::text || ':' || e.seq) FILTER (WHERE e.action = '{Action.SUPERVISE_ORDER}')
                AS orders_issued,
            count(DISTINCT e.case_id::text || ':' || e.seq) FILTER (WHERE e.action = '{Action.REPLY_ORDER}')
                AS orders_answered,
            count(DISTINCT e.case_id::text || ':' || e.seq)
                FILTER (WHERE e.action = '{Action.REPLY_ORDER}' AND e.detail->>'late' = 'false')
                AS orders_answered_in_time
        FROM ev e JOIN parties p ON p.party = e.detail->>'to'
        WHERE e.action IN ('{Action.SUPERVISE_ORDER}', '{Action.REPLY_ORDER}') GROUP BY 1
    ),
    f_rup AS (  -- report-ups (上报) it made as the lead
        SELECT p.bucket, count(DISTINCT e.case_id::text || ':' || e.seq) AS reported_up
        FROM ev e JOIN parties p ON p.party = e.detail->>'by' WHERE e.action = '{Action.REPORT_UP}' GROUP BY 1
    ),
{_RATED_BY},
    f_rate AS (
        SELECT p.bucket, count(*) AS rated, count(*) FILTER (WHERE r.action = {SATISFIED}) AS satisfied
        FROM rated_by r JOIN parties p ON p.party = r.actor->>'unit' GROUP BY 1
    ),{_clock("unit", "f_clk")}
    SELECT b.bucket,
        coalesce(received, 0) AS received, coalesce(accepted_on_time, 0) AS accepted_on_time,
        coalesce(resolved_on_time, 0) AS resolved_on_time, coalesce(overdue, 0) AS overdue,
        coalesce(escalated, 0) AS escalated, coalesce(returned, 0) AS returned,
        coalesce(wrongly_returned, 0) AS wrongly_returned, coalesce(urged, 0) AS urged,
        {_ORDER_COLUMNS},
        coalesce(rated, 0) AS rated, coalesce(satisfied, 0) AS satisfied,
        coalesce(accept_seconds_total, 0)::float8 AS accept_seconds_total, coalesce(accepts_timed, 0) AS accepts_timed,
        coalesce(resolve_seconds_total, 0)::float8 AS resolve_seconds_total,
        coalesce(resolves_timed, 0) AS resolves_timed,
        {_CLOCK_COLUMNS}, coalesce(reported_up, 0) AS reported_up
    FROM (SELECT bucket FROM f_dl UNION SELECT bucket FROM f_esc UNION SELECT bucket FROM f_ret
          UNION SELECT bucket FROM f_urge UNION SELECT bucket FROM f_ord UNION SELECT bucket FROM f_rate
          UNION SELECT bucket FROM f_clk UNION SELECT bucket FROM f_rup) b
    LEFT JOIN f_dl USING (bucket) LEFT JOIN f_esc USING (bucket) LEFT JOIN f_ret USING (bucket)
    LEFT JOIN f_urge USING (bucket) LEFT JOIN f_ord USING (bucket) LEFT JOIN f_rate USING (bucket)
    LEFT JOIN f_clk USING (bucket) LEFT JOIN f_rup USING (bucket)"""

PERSON_FIGURES = f"""{AREA}{_COHORT},
    dl AS MATERIALIZED (
        SELECT d.case_id, d.party, d.kind, d.starts_at, d.due_at FROM deadlines d JOIN cohort USING (case_id)
        WHERE d.kind IN ('{DueKind.ACCEPT}', '{DueKind.RESOLVE}')
    ),
    done AS MATERIALIZED (
        SELECT e.case_id, e.seq, e.action, e.actor->>'id' AS person, e.actor->>'unit' AS unit, e.at
        FROM case_events e JOIN cohort USING (case_id) JOIN parties p ON p.party = e.actor->>'unit'
        WHERE e.action IN ('{Action.ACCEPT}', '{Action.RESOLVE}', '{Action.RETURN}')
          AND e.actor->>'role' = 'assignee' AND coalesce(e.actor->>'id', '') <> ''
        UNION ALL  -- named responsible (派单到人) for a case of the area: by routing's assign, claim, hand-over,
                   -- reassignment, or as the case's lead_person now
        SELECT e.case_id, e.seq, '{NAMED}', coalesce(e.detail->>'responsible', e.detail->>'person'),
               coalesce(e.detail->>'party', c.lead), e.at
        FROM case_events e JOIN cohort USING (case_id) JOIN cases c USING (case_id)
        WHERE e.action IN ('{Action.ASSIGN}', '{Action.CLAIM}', '{Action.HAND_OVER}', '{Action.REASSIGN}')
          AND coalesce(e.detail->>'responsible', e.detail->>'person') IS NOT NULL
          AND c.place IN (SELECT code FROM tree)
        UNION ALL
        SELECT c.case_id, 0, '{NAMED}', c.lead_person, c.lead, c.received_at
        FROM cases c JOIN cohort USING (case_id)
        WHERE c.lead_person IS NOT NULL AND c.place IN (SELECT code FROM tree)
    ),
    -- each action with the deadline of its kind its unit owed then (the latest started by then), joined by hash
    acts AS MATERIALIZED (
        SELECT DISTINCT ON (a.case_id, a.seq) a.*, d.starts_at, d.due_at
        FROM done a LEFT JOIN dl d ON d.case_id = a.case_id AND d.party = a.unit AND d.kind = a.action
                                   AND d.starts_at <= a.at
        ORDER BY a.case_id, a.seq, d.starts_at DESC NULLS LAST
    ),
    -- what each person did per case (booleans), then per person: no count(DISTINCT) over every action
    per_case AS (
        SELECT person, case_id,
            bool_or(action IN ('{Action.ACCEPT}', '{Action.RESOLVE}', '{NAMED}')) AS received,
            bool_or(action = '{Action.ACCEPT}' AND at <= due_at) AS accepted_on_time,
            bool_or(action = '{Action.RESOLVE}' AND at <= due_at) AS resolved_on_time,
            bool_or(action IN ('{Action.ACCEPT}', '{Action.RESOLVE}') AND at > due_at) AS overdue,
            bool_or(action = '{Action.ACCEPT}' AND EXISTS (
                SELECT 1 FROM case_events x WHERE x.case_id = acts.case_id AND x.seq > acts.seq
                  AND x.action = '{Action.ESCALATE}' AND x.detail->>'from' = acts.unit)) AS escalated,
            bool_or(action = '{Action.RETURN}') AS returned,
            bool_or(action = '{Action.RETURN}' AND {_WRONGLY_RETURNED.format(e="acts", unit="acts.unit")})
                AS wrongly_returned,
            sum(extract(epoch FROM at - starts_at)) FILTER (WHERE action = '{Action.ACCEPT}') AS accept_seconds,
            count(starts_at) FILTER (WHERE action = '{Action.ACCEPT}') AS accepts_timed,
            sum(extract(epoch FROM at - starts_at)) FILTER (WHERE action = '{Action.RESOLVE}') AS resolve_seconds,
            count(starts_at) FILTER (WHERE action = '{Action.RESOLVE}') AS resolves_timed
        FROM acts GROUP BY person, case_id
    ),
    f_act AS (
        SELECT person,
            count(*) FILTER (WHERE received) AS received,
            count(*) FILTER (WHERE accepted_on_time) AS accepted_on_time,
            count(*) FILTER (WHERE resolved_on_time) AS resolved_on_time,
            count(*) FILTER (WHERE overdue) AS overdue,
            count(*) FILTER (WHERE escalated) AS escalated,
            count(*) FILTER (WHERE returned) AS returned,
            count(*) FILTER (WHERE wrongly_returned) AS wrongly_returned,
            coalesce(sum(accept_seconds), 0) AS accept_seconds_total, sum(accepts_timed)::bigint AS accepts_timed,
            coalesce(sum(resolve_seconds), 0) AS resolve_seconds_total,
            sum(resolves_timed)::bigint AS resolves_timed
        FROM per_case GROUP BY person
    ),
    f_units AS (SELECT person, array_agg(DISTINCT unit ORDER BY unit) AS units FROM acts GROUP BY person),
    f_urge AS (  -- a comment that urges a case the person accepted; an urge (催办) naming the person
        SELECT person, count(DISTINCT k) AS urged FROM (
            SELECT a.person, u.case_id::text || ':' || u.seq AS k
            FROM acts a JOIN case_events u ON u.case_id = a.case_id AND u.seq > a.seq
                                           AND u.action = '{Action.COMMENT}' AND u.detail->>'reason_code' = '{URGE}'
            WHERE a.action = '{Action.ACCEPT}'
            UNION ALL
            SELECT e.detail->>'to_person', e.case_id::text || ':' || e.seq
            FROM case_events e JOIN cohort USING (case_id) JOIN parties p ON p.party = e.detail->>'to'
            WHERE e.action = '{Action.URGE}' AND e.detail->>'to_person' IS NOT NULL
        ) u GROUP BY 1
    ),
    f_ord AS (  -- orders issued to the person (the lead's responsible person then), and the replies they gave
        SELECT person,
            count(DISTINCT k) FILTER (WHERE action = '{Action.SUPERVISE_ORDER}') AS orders_issued,
            count(DISTINCT k) FILTER (WHERE action = '{Action.REPLY_ORDER}') AS orders_answered,
            count(DISTINCT k) FILTER (WHERE action = '{Action.REPLY_ORDER}' AND NOT late) AS orders_answered_in_time
        FROM (
            SELECT CASE WHEN e.action = '{Action.REPLY_ORDER}' THEN e.actor->>'id' ELSE e.detail->>'to_person' END
                       AS person,
                   e.action, coalesce((e.detail->>'late')::boolean, false) AS late,
                   e.case_id::text || ':' || e.seq AS k
            FROM case_events e JOIN cohort USING (case_id) JOIN parties p ON p.party = e.detail->>'to'
            WHERE e.action IN ('{Action.SUPERVISE_ORDER}', '{Action.REPLY_ORDER}')
        ) o WHERE person IS NOT NULL GROUP BY person
    ),
    f_rup AS (  -- report-ups (上报) they made for the lead
        SELECT e.actor->>'id' AS person, count(DISTINCT e.case_id::text || ':' || e.seq) AS reported_up
        FROM case_events e JOIN cohort USING (case_id) JOIN parties p ON p.party = e.detail->>'by'
        WHERE e.action = '{Action.REPORT_UP}' AND coalesce(e.actor->>'id', '') <> '' GROUP BY 1
    ),
{_RATED_BY},
    f_rate AS (
        SELECT r.actor->>'id' AS person, count(*) AS rated,
               count(*) FILTER (WHERE r.action = {SATISFIED}) AS satisfied
        FROM rated_by r JOIN parties p ON p.party = r.actor->>'unit'
        WHERE r.actor->>'role' = 'assignee' GROUP BY 1
    ),{_clock("person", "f_clk")}
    SELECT b.person, (SELECT name FROM persons WHERE id = b.person) AS name,
        coalesce(f_units.units, ARRAY[]::text[]) AS units,
        coalesce(received, 0) AS received, coalesce(accepted_on_time, 0) AS accepted_on_time,
        coalesce(resolved_on_time, 0) AS resolved_on_time, coalesce(overdue, 0) AS overdue,
        coalesce(escalated, 0) AS escalated, coalesce(returned, 0) AS returned,
        coalesce(wrongly_returned, 0) AS wrongly_returned, coalesce(urged, 0) AS urged,
        {_ORDER_COLUMNS},
        coalesce(rated, 0) AS rated, coalesce(satisfied, 0) AS satisfied,
        coalesce(accept_seconds_total, 0)::float8 AS accept_seconds_total, coalesce(accepts_timed, 0) AS accepts_timed,
        coalesce(resolve_seconds_total, 0)::float8 AS resolve_seconds_total,
        coalesce(resolves_timed, 0) AS resolves_timed,
        {_CLOCK_COLUMNS}, coalesce(reported_up, 0) AS reported_up
    FROM (SELECT person FROM f_act UNION SELECT person FROM f_ord UNION SELECT person FROM f_rate
          UNION SELECT person FROM f_clk UNION SELECT person FROM f_rup) b
    LEFT JOIN f_act USING (person) LEFT JOIN f_units USING (person) LEFT JOIN f_urge USING (person)
    LEFT JOIN f_ord USING (person) LEFT JOIN f_rate USING (person) LEFT JOIN f_clk USING (person)
    LEFT JOIN f_rup USING (person)
    WHERE $6::text IS NULL OR EXISTS (SELECT 1 FROM person_roles pr WHERE pr.person_id = b.person AND pr.role = $6)
    ORDER BY b.person"""

_COUNTS = tuple(f for f in Figures.__dataclass_fields__)


def _figures(row: asyncpg.Record) -> Figures:
    return Figures(**{name: row[name] for name in _COUNTS})


def _parties_key(level: Level) -> str:
    return "territorial" if level in TERRITORIAL else level


async def rows_of(conn: asyncpg.Connection, roots: list[str], level: Level) -> list[tuple[str, str]]:
    """Every row of the table, quiet ones too (code, name): the units of the level in the area, every
    department or branch. Persons are listed by what they did (`figures`)."""
    if level == "department":
        sql = f"SELECT code, name FROM registry_departments WHERE version_id = {ACTIVE} ORDER BY code"
        return [(r["code"], r["name"]) for r in await conn.fetch(sql)]
    if level == "branch":
        sql = f"SELECT code, name FROM registry_branches WHERE version_id = {ACTIVE} ORDER BY code"
        return [(r["code"], r["name"]) for r in await conn.fetch(sql)]
    rows = await conn.fetch(f"{AREA} SELECT DISTINCT code, name FROM tree WHERE level = $2 ORDER BY code", roots, level)
    return [(r["code"], r["name"]) for r in rows]


async def figures(
    conn: asyncpg.Connection,
    roots: list[str],
    level: Level,
    start: datetime,
    end: datetime,
    visibility: list[str] | None,
    role: str | None = None,
) -> list[Subject]:
    """The subjects of the table with their figures for the cases received in [start, end); persons only those
    holding `role` somewhere (e.g. grid_worker: the 网格员 ranking) when given."""
    tree_level = level if level in TERRITORIAL else "district"
    sql = (PERSON_FIGURES if level == "person" else UNIT_FIGURES).format(parties=_PARTIES[_parties_key(level)])
    args = [roots, tree_level, start, end, visibility, role if level == "person" else HANDLING_KINDS]
    found = await conn.fetch(sql, *args)
    if level == "person":
        return [Subject(r["person"], r["name"] or r["person"], _figures(r), {"units": list(r["units"])}) for r in found]
    by_bucket = {r["bucket"]: _figures(r) for r in found}
    return [Subject(code, name, by_bucket.get(code, Figures())) for code, name in await rows_of(conn, roots, level)]
