"""Prometheus metrics every service exposes, and the exposition helper.

Metric names follow `griddispatch_<thing>_<unit>`; labels stay low-cardinality (topic, type, dependency;
never case ids, which belong in logs).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, Info, generate_latest

SERVICE_INFO = Info("griddispatch_service", "Which service and worker this process is")
DEPENDENCY_UP = Gauge(
    "griddispatch_dependency_up", "1 when the dependency answered the last readiness check", ["dependency"]
)
DEPENDENCY_CHECK_SECONDS = Histogram(
    "griddispatch_dependency_check_seconds", "Time taken by a readiness check", ["dependency"]
)
EVENTS_PUBLISHED = Counter("griddispatch_events_published_total", "Events published to Kafka", ["topic", "type"])
EVENTS_CONSUMED = Counter(
    "griddispatch_events_consumed_total", "Events consumed from Kafka", ["topic", "type", "outcome"]
)
DEAD_LETTERS = Counter("griddispatch_dead_letters_total", "Messages sent to the dead-letter topic", ["reason"])
TASK_RESTARTS = Counter(
    "griddispatch_task_restarts_total", "Background task runs that ended in failure (then restarted)", ["task"]
)
TASK_UP = Gauge("griddispatch_task_up", "1 while the background task runs, 0 while it is down", ["task"])


def describe_service(service: str, worker_id: str, version: str) -> None:
    SERVICE_INFO.info({"service": service, "worker_id": worker_id, "version": version})


def render() -> tuple[bytes, str]:
    """The text exposition of the process's metrics, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
