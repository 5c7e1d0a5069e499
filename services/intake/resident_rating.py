"""A resident's rating through the SMS's signed link: checked, recorded as used and published as the `rate`
action in one transaction (a link works once; a broker that does not answer leaves it unused)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from services.intake import resident_queries
from services.intake.submit import CASE_NAMESPACE, EVENT_SOURCE
from shared.domain.lifecycle import Action, Role, State
from shared.errors import Conflict
from shared.events import new_event
from shared.events.types import ActionRequested, Actor
from shared.kafka import publish
from shared.logging import get_logger
from shared.resident_links import RatingClaim, RatingLinkForged

log = get_logger(__name__)

RESIDENT = Actor(id="resident", role=Role.RESIDENT.value)  # the reporter, known by the link alone


class RatingLinkUsed(Conflict):
    code = "rating_link_used"


class NotRateable(Conflict):
    """The case is not waiting for a rating (rated already, by the hotline for instance, or closed)."""

    code = "not_rateable"


@dataclass(frozen=True, slots=True)
class Rated:
    case_number: str
    event_id: uuid.UUID


def rating_action(level: str) -> Action:
    """基本满意 counts as satisfied for the lifecycle; the level itself goes into the history."""
    return Action.RATE_UNSATISFIED if level == "unsatisfied" else Action.RATE_SATISFIED


async def rateable_case(conn: asyncpg.Connection, claim: RatingClaim) -> asyncpg.Record:
    """The link's case, when the link is unused and the case waits for a rating."""
    row = await resident_queries.case_by_id(conn, claim.case_id)
    if row is None:
        raise RatingLinkForged("no such rating link")
    if await resident_queries.link_used(conn, claim.token_id):
        raise RatingLinkUsed("this rating link has been used already")
    if row["state"] != State.VERIFIED:
        raise NotRateable("this case is not waiting for a rating", current_state=row["state"])
    return row


async def rate(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    topic: str,
    claim: RatingClaim,
    level: str,
    comment: str | None,
) -> Rated:
    row = await rateable_case(conn, claim)
    event_id = uuid.uuid5(CASE_NAMESPACE, f"rating-link:{claim.token_id}")
    data = ActionRequested(
        case_id=str(claim.case_id),
        action=rating_action(level).value,
        actor=RESIDENT,
        text=comment or None,
        payload={"level": level, "via": "rating_link"},
    )
    event = new_event(data, source=EVENT_SOURCE, subject=str(claim.case_id), event_id=str(event_id))
    async with conn.transaction():
        if not await resident_queries.use_link(conn, claim.token_id, claim.case_id, level, event_id):
            raise RatingLinkUsed("this rating link has been used already")
        await publish(producer, topic, event)
    log.info("rated_by_link", case_id=str(claim.case_id), level=level, event_id=str(event_id))
    return Rated(row["case_number"], event_id)
