"""Random command sequences on the case aggregate: whatever anyone asks, in any order, the case stays sound.

Hypothesis drives one case per example through a random sequence of actions (random actions by random roles and
actors, the right lead and the owing parties often enough to get deep into the lifecycle), fired deadlines of
random kinds and tiers (mostly naming the case's own deadlines) and further reports merged into it, on the sample
district and on a district generated with other counts. After every step:

* one lead at most, never among the assisting parties; the accept-by and resolve-by owed by that lead alone;
* the state is a `State`, and every entry the step appended moves along a row of the lifecycle table (or stays);
* history is append-only: the step's entries are numbered on from the case's previous seq, event ids and
  announcement ids are unique across the whole run;
* no open deadline once the case has ended; open deadlines only of the kinds the state owes, a report-in one only
  for a party that owes its part; a deadline once met or void stays so;
* the case a command is given is never changed; a refusal changes nothing but appending its `rejected` entry;
* the same command with the same cause from the same case gives the same facts (deadline uuids aside).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.case import (
    SYSTEM,
    Case,
    Changed,
    Entry,
    Fired,
    Notice,
    Refusal,
    Request,
    Rules,
    Who,
    act,
    fire,
    merge_report,
    open_case,
)
from shared.domain.case.clock_commands import LEAD_ROLES
from shared.domain.case.nearby import duplicate_of
from shared.domain.lifecycle import (
    ENDED,
    IN_HANDLING,
    MERGE_TARGETS,
    Action,
    DueKind,
    Role,
    State,
    Tier,
    allowed_actions,
    live_deadlines,
    target_of,
)
from shared.domain.model import Level
from shared.domain.routing import Urgency
from shared.registry_files.generate import DistrictSpec, generate
from shared.registry_files.load import LoadedRegistry, load_directory
from tests.unit.domain.case_helpers import report_case

SAMPLE = Path(__file__).parents[3] / "data" / "sample-district"
GENERATED = DistrictSpec(
    streets=3, communities=7, grids=15, micro_grids=41, buildings_per_micro_grid=1, seed=1414,
    centre=(114.3, 30.6), district_code="420102", district_name="江岸区",
)  # fmt: skip
START = datetime(2026, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=8)))
STEPS = 30
EXAMPLES = 100
ROLES = [r.value for r in Role]
ZERO = uuid.UUID(int=0)


@dataclass(frozen=True)
class World:
    """A loaded district and the parties that act in it."""

    rules: Rules
    buildings: tuple[str, ...]
    parties: tuple[str, ...]  # every unit, branch and department, as cases name them
    departments: tuple[str, ...]

    @classmethod
    def of(cls, loaded: LoadedRegistry) -> World:
        reg = loaded.registry
        parties = (
            [f"unit:{c}" for c in sorted(reg.units)]
            + [f"branch:{c}" for c in sorted(reg.branches)]
            + [f"department:{c}" for c in sorted(reg.departments)]
        )
        return cls(
            Rules(reg, loaded.catalog, loaded.version),
            tuple(sorted(reg.buildings)),
            tuple(parties),
            tuple(sorted(reg.departments)),
        )


@pytest.fixture(scope="module", params=["sample", "generated"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> World:
    if request.param == "sample":
        return World.of(load_directory(SAMPLE))
    return World.of(load_directory(generate(tmp_path_factory.mktemp("jiangan"), GENERATED)))


# ---- the invariants --------------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What the run has emitted so far: ids must never repeat."""

    event_ids: set[str] = field(default_factory=set)
    announcements: set[str] = field(default_factory=set)
    steps: int = 0
    states: set[State] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)  # the history entries made

    def once(self, bucket: set[str], value: str, what: str) -> None:
        assert value not in bucket, f"{what} {value} emitted twice"
        bucket.add(value)


def check_case(case: Case) -> None:
    """What holds of any case at rest."""
    p = case.progress
    assert isinstance(case.state, State) and case.state is p.state
    assert case.lead is None or case.lead not in case.assisting, "the lead is one of its own assisting parties"
    assert list(case.assisting) == sorted(set(case.assisting))
    if case.state is State.MERGED:
        assert case.merged_into is not None and case.deadlines == ()
    else:
        assert (case.lead, set(case.assisting)) == (p.lead, p.assisting)
    assert p.owing <= p.assisting, "a party owes a part without being on the case"
    if case.state in IN_HANDLING:
        assert case.lead is not None
    opened = case.open_deadlines()
    if case.state in ENDED:
        assert opened == (), f"{case.state} case with open deadlines {opened}"
    # One deadline of a kind per party, except supervision orders: each open order (督办单) has its own reply-by,
    # answered by naming the order (reply_order's order_id), so a lead may owe two orders' replies at once.
    keys = [(d.kind, d.party) for d in opened if d.kind is not DueKind.ORDER_REPLY]
    assert len(keys) == len(set(keys)), f"a party owes two deadlines of a kind at once: {keys}"
    ids = [d.deadline_id for d in opened]
    assert len(ids) == len(set(ids)), f"one deadline open twice: {ids}"
    live = live_deadlines(case.state)
    for d in opened:
        if d.kind is DueKind.REPORT_IN:
            assert d.party in p.owing, f"open report-in deadline for {d.party}, which owes nothing"
        else:
            assert d.kind in live, f"open {d.kind} deadline in a {case.state} case"
        if d.kind in (DueKind.ACCEPT, DueKind.RESOLVE):
            assert d.party == case.lead, f"{d.kind} owed by {d.party}, not by the lead {case.lead}"
            column = case.accept_by if d.kind is DueKind.ACCEPT else case.resolve_by
            assert column == d.due_at, f"the row shows {d.kind} by {column}, the deadline says {d.due_at}"
    assert len({d.deadline_id for d in case.deadlines}) == len(case.deadlines)


def legal(entry: Entry) -> bool:
    """The entry's move is a row of the lifecycle table (or it records something without moving)."""
    if entry.from_state is None:
        return entry.action == "report" and entry.to_state is State.REPORTED
    if entry.action in {a.value for a in Action}:
        return target_of(entry.from_state, Action(entry.action), Role(entry.actor.role)) is entry.to_state
    stays = ("rejected", "link", "realert", "supervise", "order_unanswered")  # records, no move
    stays = (*stays, "report_up_climbed", "report_up_realert")  # report up: records, no move
    stays = (*stays, "consultation_unanswered")  # consultation (会商): records, no move
    return entry.action in stays and entry.from_state is entry.to_state


def check_step(before: Case, after: Case, facts: tuple[object, ...], seen: Seen, *, new: bool = False) -> None:
    """What holds of one command's result on one case (`new`: the command created it)."""
    check_case(after)
    mine = [f for f in facts if isinstance(f, Entry) and f.case_id == after.case_id]
    start = 0 if new else before.seq
    assert [e.seq for e in mine] == list(range(start + 1, start + 1 + len(mine))), "history is not appended in order"
    assert after.seq == start + len(mine)
    state: State | None = None if new else before.state
    for e in mine:
        assert e.from_state is state, f"entry {e.action} from {e.from_state}, the case was {state}"
        assert legal(e), f"{e.action} by {e.actor.role}: {e.from_state} → {e.to_state} is not in the table"
        assert e.lead is None or e.lead not in e.assisting
        seen.once(seen.event_ids, e.event_id, "event id")
        seen.actions.add(e.action)
        if e.announced:
            seen.once(seen.announcements, e.announcement_id, "announcement id")
        state = e.to_state
    if mine:
        assert after.state is state
    seen.states.add(after.state)
    if new:
        return
    old = {d.deadline_id: d for d in before.deadlines}
    now = {d.deadline_id: d for d in after.deadlines}
    assert old.keys() <= now.keys(), "a deadline disappeared"
    for key, d in old.items():
        assert replace(now[key], status=d.status) == d, "a deadline changed more than its status"
        assert d.is_open or now[key].status is d.status, "a closed deadline was opened again"


# what supervision tells (shared/domain/case/supervision_commands.py): the lead, the supervisor, the issuer
SUPERVISION_ROLES = ("urged", "supervision_order_yellow", "supervision_order_red", "supervisor", "order_replied")
# what the clock tells (shared/domain/case/clock_commands.py): the supervising level asked, the lead decided
CLOCK_ROLES = ("extension_requested", "suspension_requested", *LEAD_ROLES)
SUPERVISION_ROLES = (*SUPERVISION_ROLES, "report_up", "report_up_sent_back", "report_up_climbed")  # report up
# consultation (会商, shared/domain/case/consultation_commands.py): the invited, and the convener
SUPERVISION_ROLES = (*SUPERVISION_ROLES, "consultation_invited", "consultation_opinion", "consultation_due")


def check_facts(facts: tuple[object, ...], cases: dict[uuid.UUID, Case], seen: Seen) -> None:
    refused = [f for f in facts if isinstance(f, Refusal)]
    told = [f for f in facts if isinstance(f, Notice)]
    for r in refused:
        seen.once(seen.announcements, r.announcement_id, "announcement id")
    for n in told:
        seen.once(seen.announcements, n.announcement_id, "announcement id")
        case = cases[n.case_id]
        assert n.role in ("lead", "assisting", "summoned", *SUPERVISION_ROLES, *CLOCK_ROLES)
        if n.role in LEAD_ROLES:
            assert n.assignee == case.lead
        if n.role == "lead":
            assert n.assignee == case.lead
        elif n.role in ("urged", "supervision_order_yellow", "supervision_order_red"):
            assert n.assignee == case.lead  # the lead is urged, and answers the orders
        elif n.role not in (*SUPERVISION_ROLES, *CLOCK_ROLES):
            assert n.assignee in case.assisting
    assert len([n for n in told if n.role == "lead"]) <= 1, "one command named two leads"


def check_refusal(before: Case, changed: Changed) -> None:
    refused = [f for f in changed.facts if isinstance(f, Refusal)]
    if not refused:
        entries = [f for f in changed.facts if isinstance(f, Entry)]
        assert all(e.announced and e.action != "rejected" for e in entries)
        return
    entry, refusal = changed.facts  # exactly the rejected entry and the refusal
    assert isinstance(entry, Entry) and isinstance(refusal, Refusal)
    assert (entry.action, entry.from_state, entry.to_state, entry.announced) == (
        "rejected", before.state, before.state, False,
    )  # fmt: skip
    assert refusal.state is before.state and refusal.code and refusal.action_event_id == entry.event_id
    assert changed.case == replace(before, seq=before.seq + 1), "a refusal changed the case"


def without_ids(changed: Changed) -> tuple[Case, tuple[object, ...]]:
    c = changed.case
    return replace(c, deadlines=tuple(replace(d, deadline_id=ZERO) for d in c.deadlines)), changed.facts


def applied(command: Callable[[], Changed | None], before: Case) -> Changed | None:
    """Run the command twice from the same case: it must not touch it, and must give the same facts both times."""
    frozen = copy.deepcopy(before)
    first = command()
    assert before == frozen, "the command changed the case it was given"
    second = command()
    assert (first is None) == (second is None)
    if first is not None and second is not None:
        assert without_ids(first) == without_ids(second), "the same command gave different facts"
    return first


# ---- the random steps ------------------------------------------------------------------------------------------


class Driver:
    """One case through random steps, checked after each."""

    def __init__(self, world: World, data: st.DataObject) -> None:
        self.world, self.data = world, data
        self.rules = world.rules
        self.now = START
        self.seen = Seen()
        self.n = 0
        self.bias_open = False  # fire an open deadline more often (the consultation driver)
        self.case = self.open()

    def draw(self, strategy: st.SearchStrategy):  # type: ignore[no-untyped-def, type-arg]
        return self.data.draw(strategy)

    def cause(self, what: str) -> str:
        self.n += 1
        return f"{what}-{self.n}"

    def open(self) -> Case:
        rules, catalog = self.rules, self.rules.catalog
        matter = self.draw(st.one_of(st.sampled_from(catalog.codes), st.none()))
        code = self.draw(st.sampled_from(self.world.buildings))
        self.building = rules.registry.buildings[code]
        urgency = self.draw(st.sampled_from(list(Urgency)))
        households = self.draw(st.sampled_from([0, 0, 3, 12, 80]))
        title = "" if matter else self.draw(st.sampled_from(["楼下有个问题", "路灯不亮了", "有人闻到煤气味", "x"]))
        case, decision = report_case(
            rules, self.building, matter=matter, at=self.now, title=title, urgency=urgency, households=households
        )
        changed = open_case(case, decision, Who("resident-1", "resident"), rules, self.now, cause=self.cause("report"))
        check_step(case, changed.case, changed.facts, self.seen, new=True)
        check_facts(changed.facts, {case.case_id: changed.case}, self.seen)
        assert changed.case.state is State.ASSIGNED
        return changed.case

    def tick(self) -> None:
        self.now += self.draw(
            st.sampled_from(
                [timedelta(0), timedelta(minutes=5), timedelta(hours=1), timedelta(hours=9), timedelta(days=2)]
            )
        )

    # -- actors --

    def party(self) -> str:
        return self.draw(st.sampled_from(self.world.parties))

    def actor(self, role: str) -> Who:
        case = self.case
        if role == Role.ASSIGNEE and case.lead and self.draw(st.integers(0, 9)) < 8:
            return Who("worker-1", role, case.lead)
        if role == Role.ASSISTING and case.assisting and self.draw(st.integers(0, 9)) < 8:
            pool = sorted(case.progress.owing) or list(case.assisting)
            return Who("helper-1", role, self.draw(st.sampled_from(pool)))
        if role == Role.SUPERVISOR and case.consultation.convener and self.draw(st.integers(0, 9)) < 6:
            return Who("cc-1", role, case.consultation.convener)
        if role == Role.SUPERVISOR:
            return Who("cc-1", role, self.summoner())
        if role == Role.INVITEE and case.consultation.invited and self.draw(st.integers(0, 9)) < 8:
            return Who("invited-1", role, self.draw(st.sampled_from(case.consultation.invited)))
        if role == Role.SYSTEM:
            return SYSTEM
        if role == Role.RESIDENT:
            return Who("resident-1", role)
        return Who("someone", role, self.party())

    def summoner(self) -> str:
        """A street or community over the case's place (who may summon), sometimes any unit."""
        reg, place = self.rules.registry, self.case.place
        over = (
            [f"unit:{u.code}" for u in reg.chain(place) if u.level in (Level.STREET, Level.COMMUNITY)] if place else []
        )
        if over and self.draw(st.booleans()):
            return self.draw(st.sampled_from(over))
        return self.party()

    # -- steps --

    def step(self) -> None:
        self.tick()
        kind = self.draw(st.sampled_from(["act"] * 6 + ["fire"] * 2 + ["merge"]))
        {"act": self.act, "fire": self.fire, "merge": self.merge}[kind]()
        self.seen.steps += 1

    def act(self) -> None:
        case = self.case
        plausible = [(a.value, r.value) for r in Role for a in allowed_actions(case.state, r)]
        ahead = self.ahead()
        pick = self.draw(st.integers(0, 9))
        if ahead and pick < 5:
            action, role = self.draw(st.sampled_from(ahead))
        elif plausible and pick < 9:
            action, role = self.draw(st.sampled_from(plausible))
        else:
            action = self.draw(st.sampled_from([*[a.value for a in Action], "fly"]))
            role = self.draw(st.sampled_from([*ROLES, "mayor"]))
        who = self.actor(role)
        text = self.draw(st.sampled_from(["情况说明", "情况说明", "到场处理", None, ""]))
        reason = self.draw(st.sampled_from([None, None, "not_ours"]))
        payload: dict[str, object] = {}
        if action == Action.SUMMON:
            deps = self.draw(st.lists(st.sampled_from([*self.world.departments, "nobody"]), min_size=0, max_size=2))
            payload = {"departments": deps}
        elif action == Action.ASSIGN:
            payload = {
                "lead": self.draw(st.one_of(st.sampled_from(self.world.parties), st.just("unit:000"), st.just("")))
            }
        elif action == Action.CONVENE:
            invited = self.draw(st.lists(st.sampled_from([*self.world.parties, "unit:000"]), min_size=0, max_size=3))
            hours = self.draw(st.sampled_from([None, 1, 30, 200]))
            due = {"opinions_by": (self.now + timedelta(hours=hours)).isoformat()} if hours else {}
            payload = {"invited": invited, **due}
        elif action == Action.RECORD_OUTCOME:
            parties = st.sampled_from([*self.world.parties, "unit:000"])
            payload = {"lead": self.draw(parties), "assisting": self.draw(st.lists(parties, max_size=2))}
        self.run(Request(action, who, text, reason, payload))

    def run(self, request: Request) -> None:
        case = self.case
        cause = self.cause("action")
        changed = applied(lambda: act(case, request, self.rules, self.now, cause=cause), case)
        assert changed is not None
        check_step(case, changed.case, changed.facts, self.seen)
        check_facts(changed.facts, {case.case_id: changed.case}, self.seen)
        check_refusal(case, changed)
        self.case = changed.case

    def ahead(self) -> list[tuple[str, str]]:
        """The actions that move the case on along the happy path (with a detour or two), by the right role."""
        case = self.case
        lead, part, centre, resident = Role.ASSIGNEE.value, Role.ASSISTING.value, Role.SUPERVISOR.value, "resident"
        if case.state in (State.ASSIGNED, State.REOPENED):
            return [("accept", lead)]
        if case.state in (State.ACCEPTED, State.IN_PROGRESS):
            if case.consultation.is_open:  # 会商: the invited answer, the convener records the outcome
                return [("give_opinion", "invitee"), ("give_opinion", "invitee"), ("record_outcome", centre)]
            if case.progress.owing:
                return [("report_in", part), ("report_in", part), ("progress", part)]
            return [
                ("resolve", lead),
                ("resolve", lead),
                ("start", lead),
                ("summon", lead),
                ("convene", centre),
                ("convene", centre),
            ]
        if case.state is State.RESOLVED:
            return [("verify_passed", centre), ("verify_passed", centre), ("verify_failed", centre)]
        if case.state is State.VERIFIED:
            return [("rate_satisfied", resident), ("rate_unsatisfied", resident)]
        if case.state is State.CLOSED:
            return [("reopen", centre), ("comment", resident)]
        return []

    def fire(self) -> None:
        case = self.case
        known = list(case.deadlines)
        running = list(case.open_deadlines())
        if running and self.bias_open and self.draw(st.integers(0, 3)) == 0:  # what escalation fires next
            known = running
        if known and self.draw(st.integers(0, 9)) < 8:
            d = self.draw(st.sampled_from(known))
            deadline_id, kind, party, due = str(d.deadline_id), d.kind, d.party, d.due_at
            if self.draw(st.integers(0, 9)) == 0:
                kind = self.draw(st.sampled_from(list(DueKind)))
            if self.draw(st.integers(0, 9)) == 0:
                party = self.party()
        else:  # an id this case does not know: the party's latest deadline of the kind stands in
            deadline_id, due = str(uuid.uuid4()), self.now
            kind = self.draw(st.sampled_from(list(DueKind)))
            party = case.lead if case.lead and self.draw(st.booleans()) else self.party()
        tier = self.draw(st.sampled_from([Tier.ESCALATE, Tier.ESCALATE, Tier.OVERDUE, Tier.WARNING, Tier.REALERT]))
        fired = Fired(deadline_id, kind, tier, due, party)
        cause = self.cause("fired")
        changed = applied(lambda: fire(case, fired, self.rules, self.now, cause=cause), case)
        if changed is None:
            return
        assert not [f for f in changed.facts if isinstance(f, Refusal)]
        check_step(case, changed.case, changed.facts, self.seen)
        check_facts(changed.facts, {case.case_id: changed.case}, self.seen)
        self.case = changed.case

    def merge(self) -> None:
        """A further report at the same building: merged into the case when dispatch would merge it."""
        case, rules = self.case, self.rules
        b = self.building
        found = duplicate_of(case.matter_code, b.lon, b.lat, self.now, [case], rules.duplicates)
        mergeable = case.state in MERGE_TARGETS and case.matter_code is not None
        if found is None:  # not open to further reports any more, or too long ago
            assert not mergeable or case.received_at < self.now - rules.duplicates.window
            return
        assert mergeable
        into, distance = found
        self.n += 1
        report, _ = report_case(rules, b, matter=case.matter_code, at=self.now, number=1000 + self.n)
        cause = self.cause("report")
        frozen = copy.deepcopy(case)
        merged, linked = merge_report(
            report, into, distance, Who("resident-2", "resident"), rules, self.now, cause=cause
        )
        assert case == frozen
        check_step(report, merged.case, merged.facts, self.seen, new=True)
        check_step(case, linked.case, linked.facts, self.seen)
        assert merged.case.state is State.MERGED and merged.case.merged_into == case.case_id
        assert linked.case == replace(case, duplicates=case.duplicates + 1, seq=case.seq + 1)
        self.case = linked.case


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_command_sequences_keep_the_case_sound(world: World, data: st.DataObject) -> None:
    driver = Driver(world, data)
    for _ in range(data.draw(st.integers(1, STEPS), label="steps")):
        driver.step()


def test_random_sequences_reach_deep_into_the_lifecycle(world: World) -> None:
    """The drivers above are worth their invariants only if they get past accepting: run a fixed few and look."""
    reached: set[State] = set()

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def walk(data: st.DataObject) -> None:
        driver = Driver(world, data)
        for _ in range(STEPS):
            driver.step()
        reached.update(driver.seen.states)

    walk()
    assert {State.ACCEPTED, State.IN_PROGRESS, State.RESOLVED, State.VERIFIED, State.CLOSED} <= reached, reached
    assert {State.REOPENED, State.CANCELLED} <= reached, reached


class ConsultedDriver(Driver):
    """A case accepted by its lead, then convened (会商) by the street or community over its place with random
    invitees: the random steps that follow meet the consultation's answers, refusals, deadlines and outcome."""

    def __init__(self, world: World, data: st.DataObject) -> None:
        super().__init__(world, data)
        self.bias_open = True
        case = self.case
        assert case.lead is not None and case.place is not None
        self.run(Request("accept", Who("worker-1", "assignee", case.lead)))
        over = [f"unit:{u.code}" for u in self.rules.registry.chain(case.place)]
        convener = self.draw(st.sampled_from([u for u in over if self.is_street_or_community(u)] or over))
        invited = self.draw(st.lists(st.sampled_from(self.world.parties), min_size=1, max_size=3, unique=True))
        hours = self.draw(st.sampled_from([1, 9, 30]))
        payload = {"invited": invited, "opinions_by": (self.now + timedelta(hours=hours)).isoformat()}
        self.run(Request("convene", Who("cc-1", "supervisor", convener), "会商", None, payload))

    def step(self) -> None:
        self.tick()
        kind = self.draw(st.sampled_from(["act"] * 4 + ["fire"] * 3 + ["merge"]))  # its deadlines fire more
        {"act": self.act, "fire": self.fire, "merge": self.merge}[kind]()
        self.seen.steps += 1

    def is_street_or_community(self, unit: str) -> bool:
        found = self.rules.registry.units.get(unit.partition(":")[2])
        return found is not None and found.level in (Level.STREET, Level.COMMUNITY)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_steps_on_a_consulted_case_keep_it_sound(world: World, data: st.DataObject) -> None:
    driver = ConsultedDriver(world, data)
    for _ in range(data.draw(st.integers(1, STEPS // 2), label="steps")):
        driver.step()


def test_random_steps_on_a_consulted_case_reach_its_answers_deadline_and_outcome(world: World) -> None:
    """The consultation driver is worth its invariants only if it gets to every step of a consultation."""
    recorded: set[str] = set()

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def walk(data: st.DataObject) -> None:
        driver = ConsultedDriver(world, data)
        for _ in range(STEPS // 2):
            driver.step()
        recorded.update(driver.seen.actions)

    walk()
    consulted = {"convene", "give_opinion", "record_outcome", "consultation_unanswered"}
    assert consulted <= recorded, consulted - recorded
