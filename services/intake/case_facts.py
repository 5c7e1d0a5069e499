"""What the statistics' yes-or-no figures mean of one case, as SQL: the statistics count them, the case list
(`GET /v1/cases?fact=`), the desk and the map list and count the cases behind each figure with the same text."""

from __future__ import annotations

from shared.domain.lifecycle import Action, DueKind, State
from shared.queries.case_events import RATINGS, SATISFIED
from shared.queries.deadlines import fell_due, met_in_time

# the handling units' deadlines; verify and follow-up are not theirs
HANDLING_KINDS = [DueKind.ACCEPT.value, DueKind.RESOLVE.value, DueKind.REPORT_IN.value]
FACTS = ("accepted_in_time", "resolved_in_time", "overdue", "escalated", "returned", "rated", "satisfied")


def fact_predicates(c: str) -> dict[str, str]:
    """What each yes-or-no column of the statistics means of one case (alias `c`): the table counts them, and the
    case list (`GET /v1/cases?fact=`) lists the cases behind each figure with the same SQL."""
    kinds = "ARRAY[" + ", ".join(f"'{k}'" for k in HANDLING_KINDS) + "]"

    def happened(condition: str) -> str:
        return f"EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = {c}.case_id AND {condition})"

    return {
        "accepted_in_time": f"""EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = {c}.case_id
                                AND d.kind = '{DueKind.ACCEPT}' AND {met_in_time("d")})""",
        "resolved_in_time": f"""EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = {c}.case_id
                                AND d.kind = '{DueKind.RESOLVE}' AND {met_in_time("d")})""",
        "overdue": f"""EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = {c}.case_id AND d.kind = ANY({kinds})
                       AND {fell_due("d")})""",
        "escalated": happened(f"e.action = '{Action.ESCALATE}'"),
        "returned": happened(f"e.action = '{Action.RETURN}'"),
        "rated": happened(f"e.action IN {RATINGS}"),
        "satisfied": happened(f"e.action = {SATISFIED}"),
    }


# The cases the statistics count: every one received in the period but those merged into another.
COUNTED = f"state <> '{State.MERGED}'"
