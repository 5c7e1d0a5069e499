"""notify's operationIds where its endpoint's function name alone would not say it (shared.openapi_doc names
every other route after its function, in camelCase)."""

from __future__ import annotations

OPERATION_IDS: dict[str, str] = {
    "list_all": "listSubscriptions",
    "create": "createSubscription",
    "get_one": "getSubscription",
    "patch": "updateSubscription",
    "delete": "deleteSubscription",
    "rotate": "rotateSubscriptionSecret",
    "deliveries": "listDeliveries",
    "delivery": "getDelivery",
    "replay": "replayDelivery",
    "stream": "streamUnitEvents",
}
