"""POST /v1/reports: a report in, a case out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.intake.deps import Client, Res, require
from services.intake.schemas import Accepted, ReportIn, problems
from services.intake.submit import submit_report
from shared.api_clients import Scope

router = APIRouter(prefix="/v1", tags=["reports"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="the same key gives back the same case; reuse it for retries of one report only",
    ),
]


@router.post(
    "/reports",
    status_code=202,
    response_model=Accepted,
    summary="Submit a report",
    responses={
        202: {"description": "accepted: the event is in Kafka; the case is being dispatched"},
        **problems(
            400,
            401,
            403,
            409,
            413,
            415,
            422,
            429,
            503,
            _409="the Idempotency-Key (or source_ref) was used for a different report",
            _422="invalid report: `field` names what is wrong",
            _503="the broker is unreachable: nothing was accepted; retry after Retry-After",
        ),
    },
)
async def post_report(
    report: ReportIn, client: Client, res: Res, response: Response, idempotency_key: IdempotencyKey = None
) -> Accepted:
    require(client, Scope.SUBMIT)
    submission = await submit_report(
        res.pool, res.producer, res.topics, res.settings, client, report, idempotency_key, res.public_url
    )
    status_url = f"{res.public_url}/v1/cases/{submission.case_id}"
    response.headers["Location"] = status_url
    return Accepted(
        case_id=str(submission.case_id),
        case_number=submission.case_number,
        status_url=status_url,
        replayed=submission.replayed,
    )
