"""The day actor: grid workers, departments, the command centre and residents acting on the simulated cases.

Everything goes through the real intake API with real keys: the actor reads the case (its state, lead,
assisting units, history) and takes the next step its `Fate` plans: report in for each assisting unit and
accept, start and resolve as the lead, verify as the command centre, rate as the resident; or return it once,
or leave it unaccepted so its deadlines warn and escalate. One step at a time per case; a step whose action
dispatch has not yet applied is looked at again shortly instead of being repeated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from griddispatch.simulation.api import IntakeApi
from griddispatch.simulation.reports import PlannedReport
from shared.domain.lifecycle import AWAITING_DISPATCH, ENDED, State
from shared.domain.registry import Registry

POLL_S = 1.0  # real seconds before looking again at a case dispatch has not caught up with
MAX_POLLS = 60  # then the actor stops following the case (it is counted as left open)
SETTLED = frozenset({*ENDED, State.RATED})  # nothing more for a simulated person to do
IN_DISPATCH = frozenset({"received", *AWAITING_DISPATCH})  # dispatch's move next ("received": not a case yet)


@dataclass(frozen=True, slots=True)
class ActorKeys:
    worker: str  # read + act, every unit: speaks for each unit and branch on its own case
    supervisor: str  # read + supervise: the command centre that verifies
    residents: dict[str, str]  # by source: the client that submitted, which rates for its resident


@dataclass(slots=True)
class Tracked:
    report: PlannedReport
    case_id: str
    returned: bool = False
    verify_failed: bool = False
    unsatisfied: bool = False
    # after an action: the states (with this lead) the case stays in until dispatch has applied it; wait meanwhile
    waiting: tuple[frozenset[str], str | None] | None = None
    polls: int = 0
    steps: int = 0


@dataclass(frozen=True, slots=True)
class Next:
    """When to look at the case again: after `sim_s` simulated seconds, or `real_s` real ones."""

    sim_s: float = 0.0
    real_s: float = 0.0


@dataclass(slots=True)
class ActorStats:
    actions: Counter[str] = field(default_factory=Counter)  # accepted by intake (202), by action
    refused: Counter[str] = field(default_factory=Counter)  # "<action> <status>"
    abandoned: int = 0  # cases dispatch did not move on within MAX_POLLS looks
    steps: int = 0  # looks at a case
    polls: int = 0  # looks that found dispatch had not yet applied the last action


def owed_parts(case: dict[str, Any]) -> list[str]:
    """Assisting units that have not reported their part since the case was last assigned."""
    history = case.get("history", [])
    last_assign = max((i for i, e in enumerate(history) if e.get("action") == "assign"), default=-1)
    done = {(e.get("actor") or {}).get("unit") for e in history[last_assign + 1 :] if e.get("action") == "report_in"}
    return [p for p in case.get("assignment", {}).get("assisting", []) if p not in done]


class DayActor:
    def __init__(self, api: IntakeApi, keys: ActorKeys, registry: Registry, run: str) -> None:
        self.api = api
        self.keys = keys
        self.registry = registry
        self.run = run
        self.stats = ActorStats()
        self.command_centre = f"unit:{registry.roots[0].code}"  # the district's, which sees every case

    def person(self, party: str) -> str:
        """Who acts for a unit: its first grid worker from the registry, else the unit's duty officer."""
        kind, _, code = party.partition(":")
        if kind == "unit" and code in self.registry.units:
            people = self.registry.units[code].people
            if people:
                return people[0].id
        return f"{code}-duty"

    async def _act(self, key: str, t: Tracked, action: str, party: str | None, **fields: Any) -> bool:
        actor: dict[str, Any] = {"id": self.person(party) if party else "resident"}
        if party:
            actor["unit"] = party
        body = {"action": action, "actor": actor, **fields}
        t.steps += 1
        answer = await self.api.act(key, t.case_id, body, f"sim-{self.run}-{t.report.seq}-{t.steps}-{action}")
        if answer.ok:
            self.stats.actions[action] += 1
        else:
            self.stats.refused[f"{action} {answer.status}"] += 1
        return answer.ok

    def _wait(self, t: Tracked) -> Next | None:
        t.polls += 1
        self.stats.polls += 1
        if t.polls > MAX_POLLS:
            self.stats.abandoned += 1
            return None
        return Next(real_s=POLL_S)

    async def step(self, t: Tracked) -> Next | None:
        """Look at the case and take its next step; when to come back, or None when the actor is done with it."""
        self.stats.steps += 1
        answer = await self.api.case(self.keys.worker, t.case_id)
        if not answer.ok:
            return self._wait(t)
        case = answer.body
        state = str(case.get("state"))
        lead = (case.get("assignment") or {}).get("lead")
        if state in SETTLED:
            return None
        if state in IN_DISPATCH or (t.waiting is not None and state in t.waiting[0] and lead == t.waiting[1]):
            return self._wait(t)
        t.polls, t.waiting = 0, (frozenset({state}), lead)
        fate = t.report.fate
        if state in ("assigned", "reopened"):
            if fate.kind == "neglected" or not lead:
                return None
            if fate.kind == "returned" and not t.returned:
                t.returned = True
                await self._act(
                    self.keys.worker, t, "return", lead,
                    reason_code="not_our_jurisdiction", text="经核实不属于本单位职责，请重新派单",
                )  # fmt: skip
                return Next(real_s=POLL_S)
            for party in owed_parts(case):
                await self._act(self.keys.worker, t, "report_in", party, text="已配合处置")
            await self._act(self.keys.worker, t, "accept", lead)
            return Next(sim_s=fate.resolve_after_s)
        if state in ("accepted", "in_progress"):
            for party in owed_parts(case):  # a part owed since (an escalation, a refused report): first
                await self._act(self.keys.worker, t, "report_in", party, text="已配合处置")
            if state == "accepted":
                await self._act(self.keys.worker, t, "start", lead)
            await self._act(self.keys.worker, t, "resolve", lead, text="已到现场处置完毕")
            t.waiting = (frozenset({"accepted", "in_progress"}), lead)  # start may be applied before resolve
            return Next(sim_s=fate.verify_after_s)
        if state == "resolved":
            passed = not (fate.kind == "verify_failed" and not t.verify_failed)
            t.verify_failed = t.verify_failed or not passed
            text = "核查通过" if passed else "现场核查未整改到位"
            await self._act(self.keys.supervisor, t, "verify", self.command_centre, passed=passed, text=text)
            return Next(sim_s=fate.rate_after_s if passed else fate.accept_after_s)
        if state == "verified":
            key = self.keys.residents.get(t.report.source)
            if key is None or t.report.reporter is None:
                return None  # nobody to rate it: the follow-up window closes it
            satisfied = not (fate.kind == "unsatisfied" and not t.unsatisfied)
            t.unsatisfied = t.unsatisfied or not satisfied
            await self._act(key, t, "rate", None, score=5 if satisfied else 2)
            return Next(sim_s=fate.accept_after_s) if not satisfied else None
        return None  # a state the plan does not cover (cancelled by someone else, ...)
