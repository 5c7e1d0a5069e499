"""One error hierarchy for the whole system.

Every error carries a stable machine-readable `code`; `retriable` says whether the same call may succeed
later (a broker or database that is down) or never will (bad input). HTTP problems and dead-letter reasons
are mapped from these in one place each.
"""

from __future__ import annotations

from typing import Any


class GridDispatchError(Exception):
    """Base of every error griddispatch raises on purpose."""

    code: str = "griddispatch_error"
    retriable: bool = False

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retriable": self.retriable, **self.detail}


class ConfigurationError(GridDispatchError):
    """A setting is missing or wrong; names the setting and where it came from."""

    code = "configuration_error"


class InfrastructureUnavailable(GridDispatchError):
    """A real part (broker, database) did not answer; trying again later may work."""

    code = "infrastructure_unavailable"
    retriable = True


class BrokerUnavailable(InfrastructureUnavailable):
    code = "broker_unavailable"


class DatabaseUnavailable(InfrastructureUnavailable):
    code = "database_unavailable"


class InvalidInput(GridDispatchError):
    """Input that can never be processed as sent."""

    code = "invalid_input"


class NotFound(GridDispatchError):
    code = "not_found"


class Conflict(GridDispatchError):
    """The request contradicts what is already recorded (idempotency key reuse, illegal transition)."""

    code = "conflict"


class MigrationError(GridDispatchError):
    code = "migration_error"


class IdempotencyConflict(Conflict):
    """The same idempotency key (or source reference) came back with a different body."""

    code = "idempotency_conflict"


class Unauthenticated(GridDispatchError):
    code = "unauthenticated"


class Forbidden(GridDispatchError):
    """Authenticated, but this client may not do that."""

    code = "forbidden"


class Gone(GridDispatchError):
    """It existed, and will never be usable again (an expired link)."""

    code = "gone"


class RateLimited(GridDispatchError):
    code = "rate_limited"
    retriable = True


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"


class UnreadableParameter(InvalidInput):
    """A URL whose path or a query parameter cannot be read as text: a NUL, or %-encoded bytes that are not UTF-8."""

    code = "unreadable_parameter"


class UnreadableBody(InvalidInput):
    """A body that cannot be read as text: not UTF-8, a NUL or a lone surrogate in a string, nested too deeply."""

    code = "unreadable_body"
