"""Settings: one class per concern, read from the environment with the prefix GRIDDISPATCH_.

This is the only module that reads the environment. Defaults point at what `griddispatch infra up`
starts on loopback, so a fresh checkout works with no configuration at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ServiceName = Literal["intake", "dispatch", "escalation", "notify"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("intake", "dispatch", "escalation", "notify")


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=f"GRIDDISPATCH_{prefix}", extra="ignore")


class KafkaSettings(BaseSettings):
    """How to reach the Kafka broker (GRIDDISPATCH_KAFKA_*)."""

    model_config = _config("KAFKA_")

    bootstrap_servers: str = "127.0.0.1:29092"
    client_id: str = "griddispatch"
    topic_prefix: str = Field("griddispatch", description="prefix of every topic name; tests use their own")
    replication_factor: int = Field(1, ge=1, description="replicas of every topic created at start; 3 in production")
    # min.insync.replicas of every topic created at start (2 beside replication 3: an acks=all write survives
    # one broker lost, and is refused rather than kept on one copy when two are). Unset: the broker's default,
    # so a broker configured for 2 is never weakened by a topic-level 1.
    min_insync_replicas: int | None = Field(None, ge=1)
    request_timeout_ms: int = 15000
    # Who the client is to the broker (docs/events.md "ACLs"): PLAINTEXT, the default, authenticates nobody;
    # SASL_PLAINTEXT or SASL_SSL with SCRAM give each service (and each department system) its own principal.
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_") and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"GRIDDISPATCH_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                "GRIDDISPATCH_KAFKA_SASL_USERNAME and GRIDDISPATCH_KAFKA_SASL_PASSWORD"
            )
        return self

    def client_security(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for authenticating as this principal (none for PLAINTEXT)."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password.get_secret_value() if self.sasl_password else None,
        }
        if self.security_protocol == "SASL_SSL":
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context()
        return options

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> KafkaSettings:
        if self.min_insync_replicas is not None and self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS ({self.min_insync_replicas}) exceeds "
                f"GRIDDISPATCH_KAFKA_REPLICATION_FACTOR ({self.replication_factor}): no acks=all write could succeed"
            )
        return self


class DatabaseSettings(BaseSettings):
    """How to reach PostgreSQL (GRIDDISPATCH_DB_*)."""

    model_config = _config("DB_")

    url: str = "postgresql://griddispatch:griddispatch@127.0.0.1:25432/griddispatch"
    pool_min_size: int = 1
    pool_max_size: int = 10
    connect_timeout_s: float = 5.0


class LocalInfraSettings(BaseSettings):
    """The local Kafka and PostgreSQL that `griddispatch infra up` runs (GRIDDISPATCH_LOCAL_*).

    Ports stay below 32768, outside Linux's ephemeral range: an outgoing connection can never be holding them.
    """

    model_config = _config("LOCAL_")

    dir: Path = PROJECT_ROOT / ".local"
    cache_dir: Path = PROJECT_ROOT / ".local" / "cache"  # Kafka jars; shared by every local dir
    kafka_version: str = "3.9.2"
    kafka_port: int = 29092
    kafka_controller_port: int = 29093
    kafka_heap: str = "-Xms256m -Xmx1g"
    postgres_port: int = 25432
    postgres_user: str = "griddispatch"
    postgres_password: str = "griddispatch"
    postgres_db: str = "griddispatch"
    start_timeout_s: float = 120.0


class ServiceSettings(BaseSettings):
    """Where a service listens and who it is (GRIDDISPATCH_SERVICE_*); options of `serve` override."""

    model_config = _config("SERVICE_")

    host: str = "127.0.0.1"
    intake_port: int = 8000
    dispatch_port: int = 8001
    escalation_port: int = 8002
    notify_port: int = 8003
    worker_id: str = "1"
    data_dir: Path = Path(".local/dispatch-data")  # faust's local state; relative to the working directory

    def port_of(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_port")
        return port


class IntakeSettings(BaseSettings):
    """The intake service's limits and public face (GRIDDISPATCH_INTAKE_*)."""

    model_config = _config("INTAKE_")

    public_url: str | None = None  # base of the status URLs handed to clients; default: where intake listens
    case_number_prefix: str = "GD"
    district_timezone: str = "Asia/Shanghai"  # case numbers carry the district's local date
    max_body_bytes: int = Field(256 * 1024, ge=1, description="a larger request body is refused with 413")
    max_attachments: int = 10
    default_rate_per_min: int = 600
    open311_jurisdiction_id: str = "griddispatch.local"
    console_notify_url: str | None = None  # where the console's browser reaches notify; default: notify's address
    # The console's slippy map (docs/console.md): a tile URL template ({z}, {x}, {y}, optional {s}), e.g. a city's
    # own tile server or Tianditu with the operator's key in it; unset: the offline outline map. `crs`: the
    # coordinates the tiles are drawn in (the registry stays WGS84; gcj02 converts every shape for Chinese
    # basemaps offset by GCJ-02; Tianditu's CGCS2000 is wgs84 here).
    console_tiles_url: str | None = None
    console_tiles_attribution: str = ""
    console_tiles_subdomains: str = ""  # e.g. 01234567 for Tianditu's t0..t7
    console_tiles_crs: Literal["wgs84", "gcj02"] = "wgs84"
    console_tiles_max_zoom: int = Field(18, ge=1, le=22)


class OidcSettings(BaseSettings):
    """Single sign-on through OpenID Connect (GRIDDISPATCH_OIDC_*); off while `issuer` is unset. docs/people.md."""

    model_config = _config("OIDC_")

    issuer: str | None = None  # e.g. https://sso.example.gov.cn/realms/district; its discovery document is read
    client_id: str = "griddispatch"
    client_secret: str | None = None
    redirect_uri: str | None = None  # registered at the provider; default: <intake's public URL>/v1/auth/oidc/callback
    scopes: str = "openid profile phone griddispatch"
    roles_claim: str = "griddispatch_roles"  # a list of "<role>@<unit>" (grid_worker@unit:110105001001)
    # The roles a token may bring, comma-separated; administrator stays with the people admin unless listed.
    trusted_roles: str = (
        "grid_worker,micro_grid_head,grid_head,duty_officer,department_handler,department_head,district_supervisor"
    )
    username_claim: str = "preferred_username"  # matched to persons.username when no person is linked yet
    name_claim: str = "name"
    phone_claim: str = "phone_number"
    create_persons: bool = False  # an unknown account becomes a person (source 'oidc'); off: it is refused
    login_ttl_s: float = Field(600.0, gt=0, le=3600)  # from the redirect to the provider until the callback
    http_timeout_s: float = Field(10.0, gt=0)
    clock_skew_s: int = Field(60, ge=0, le=600)  # leeway on the ID token's exp and iat
    console_path: str = "/console/"  # where a signed-in person lands (tokens in the fragment)

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    @property
    def trusted_role_list(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.trusted_roles.split(",") if r.strip())

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if self.issuer and not self.client_secret:
            raise ValueError("GRIDDISPATCH_OIDC_ISSUER is set but GRIDDISPATCH_OIDC_CLIENT_SECRET is not")
        return self


class AuthSettings(BaseSettings):
    """Sign-in of people and their tokens (GRIDDISPATCH_AUTH_*); docs/people.md, "Signing in"."""

    model_config = _config("AUTH_")

    # HMAC key of the access tokens (HS256), at least 32 characters, the same for intake and notify. Unset: a
    # random key generated once and kept in the database (token_signing_key), shared by every process on it.
    token_secret: SecretStr | None = Field(None, min_length=32)
    issuer: str = "griddispatch"
    audience: str = "griddispatch"
    access_minutes: float = Field(15.0, gt=0, le=24 * 60)  # an access token's life
    session_hours: float = Field(12.0, gt=0)  # a session's absolute life, however often it is refreshed
    idle_minutes: float = Field(60.0, gt=0)  # a session unused (no request, no refresh) this long ends
    lockout_after: int = Field(5, ge=1)  # consecutive failed sign-ins that lock the account
    lockout_minutes: float = Field(15.0, gt=0)
    sign_in_rate_per_min: int = Field(10, ge=1)  # sign-in attempts per login name and address
    person_rate_per_min: int = Field(600, ge=1)  # requests a minute of a signed-in person


class DistrictSettings(BaseSettings):
    """The district's calendar (GRIDDISPATCH_DISTRICT_*): its time zone and its own holidays and working days."""

    model_config = _config("DISTRICT_")

    timezone: str = "Asia/Shanghai"
    local_days_file: Path | None = None  # YAML or JSON: extra holidays and make-up working days (see docs/routing.md)


class DispatchSettings(BaseSettings):
    """Dispatch's own knobs (GRIDDISPATCH_DISPATCH_*)."""

    model_config = _config("DISPATCH_")

    # Every deadline's allowance and warning offsets are multiplied by this (1: the real clock). Only for a
    # replayed day (`make demo` sets 1/DEMO_SPEEDUP, so a day's deadlines fall due within its minutes).
    deadline_scale: float = Field(1.0, gt=0, le=1)
    # Micro-batches: the worker takes the events waiting, up to `batch_max` (and with `batch_wait_ms` waits
    # that long for more once the first is there), applies them in order in one transaction and publishes
    # what they caused at once (services/dispatch/batching.py).
    batch_max: int = Field(500, ge=1, le=5000)
    batch_wait_ms: float = Field(0.0, ge=0, le=1000)


class EscalationSettings(BaseSettings):
    """Deadline firing (GRIDDISPATCH_ESCALATION_*)."""

    model_config = _config("ESCALATION_")

    batch: int = 500  # deadlines claimed per transaction
    realert_minutes: float = 30.0  # how often a top-rung (district) case that stays overdue is re-alerted
    max_sleep_s: float = 30.0  # the longest a worker sleeps without looking (NOTIFY wakes it sooner)
    case_gauges_s: float = 60.0  # how often open and overdue cases per level are counted for the metrics


class NotifySettings(BaseSettings):
    """Alert delivery (GRIDDISPATCH_NOTIFY_*)."""

    model_config = _config("NOTIFY_")

    webhook_timeout_s: float = 5.0
    max_body_bytes: int = Field(64 * 1024, ge=1, description="a larger request body is refused with 413")
    max_attempts: int = 8  # then the delivery goes to the dead-letter list
    backoff_base_s: float = 2.0  # retry n waits about base * 2^(n-1), with jitter, at most backoff_max_s
    backoff_max_s: float = 600.0
    group_window_s: float = 60.0  # SMS and e-mail to one person within this window go out as one message
    rate_per_hour: int = 12  # at most this many SMS or e-mails an hour to one person (urgent ones excepted)
    repeat_minutes: float = 30.0  # the same unresolved alert to the same person at most this often
    batch: int = 100
    sms_gateway_url: str | None = None  # an HTTP SMS gateway; unset: no SMS is sent
    sms_gateway_key: str | None = None
    smtp_host: str | None = None  # unset: no e-mail is sent
    smtp_port: int = 25
    smtp_sender: str = "griddispatch@localhost"
    district_timezone: str = "Asia/Shanghai"
    # Origins whose browsers may read the live streams (the intake console), comma-separated; GET streams only.
    console_origins: str = "http://127.0.0.1:8000,http://localhost:8000"

    @property
    def console_origin_list(self) -> list[str]:
        return [o.strip() for o in self.console_origins.split(",") if o.strip()]


class ResidentSettings(BaseSettings):
    """Residents' self-service without an account (GRIDDISPATCH_RESIDENT_*): the case look-up and the signed rating
    link of the outcome SMS (docs/intake-api.md, "Residents' self-service")."""

    model_config = _config("RESIDENT_")

    # HMAC key of the rating links (HS256), at least 32 characters, the same for notify (signs) and intake (checks).
    # Unset: a random key generated once and kept in the database (rating_link_key), shared by every process on it.
    link_secret: SecretStr | None = Field(None, min_length=32)
    link_days: float = Field(7.0, gt=0, le=90)  # a link's life; never past the case's follow-up window
    # The resident page the SMS links to (its rating form takes the token after #t=); unset: intake's public URL
    # (GRIDDISPATCH_INTAKE_PUBLIC_URL, else where intake listens) + /resident/rate/.
    rate_page_url: str | None = None
    lookup_per_address: int = Field(20, ge=1)  # look-ups from one client address per window
    failures_per_case: int = Field(5, ge=1)  # wrong answers for one case number per window; then 429 for everyone
    window_minutes: float = Field(60.0, gt=0)
    ratings_per_address: int = Field(20, ge=1)  # rating-link answers from one address per window


class RetentionSettings(BaseSettings):
    """How long rows nothing needs any more are kept, and how the task deletes them (GRIDDISPATCH_RETENTION_*);
    shared/retention/policy.py derives what the rest depends on (a consumer's seen ids: its topics' retention)."""

    model_config = _config("RETENTION_")

    enabled: bool = True
    interval_s: float = Field(300.0, gt=0)  # a pass over every rule this often
    batch_rows: int = Field(1000, ge=1, le=100_000)  # rows per DELETE (one short transaction each)
    max_batches: int = Field(100, ge=1)  # per rule and pass: a large backlog is worked off over several passes
    pause_s: float = Field(0.02, ge=0)  # between batches, so the hot path always gets the database first
    dedupe_margin_days: float = Field(1.0, ge=0)  # seen event ids outlive their topics' retention by this
    outbox_days: float = Field(7.0, ge=0)  # published outbox rows
    deliveries_days: float = Field(30.0, gt=0)  # delivered, grouped, suppressed deliveries and their attempts
    dead_deliveries_days: float = Field(90.0, gt=0)
    stream_hours: float = Field(7 * 24.0, gt=0)  # the live streams' resume window
    sessions_days: float = Field(30.0, ge=0)  # ended sign-in sessions


class TracingSettings(BaseSettings):
    """Trace context and spans (GRIDDISPATCH_TRACING_*), shared/tracing.py. The context is carried always;
    spans leave the process only through the named exporter."""

    model_config = _config("TRACING_")

    enabled: bool = True  # record spans with the OpenTelemetry SDK (ids for requests that bring none)
    exporter: Literal["none", "otlp", "console"] = "none"
    otlp_endpoint: str | None = None  # e.g. http://collector:4318/v1/traces; unset: OTEL_EXPORTER_OTLP_* decide
    sample_ratio: float = Field(1.0, ge=0, le=1)  # of traces started here; a caller's sampled flag is followed


class SupervisorSettings(BaseSettings):
    """Background tasks' restarts (GRIDDISPATCH_SUPERVISOR_*), shared/supervisor.py."""

    model_config = _config("SUPERVISOR_")

    backoff_initial_s: float = Field(0.5, gt=0)  # the first restart's wait; doubled after each failure
    backoff_max_s: float = Field(30.0, gt=0)
    healthy_after_s: float = Field(60.0, gt=0)  # a run this long resets the back-off
    failure_limit: int = Field(5, ge=1)  # more failures than this within the window: /healthz fails
    failure_window_s: float = Field(300.0, gt=0)
    stop_grace_s: float = Field(10.0, ge=0)  # on stop, tasks may finish their step this long before cancellation


class LogSettings(BaseSettings):
    """Logging (GRIDDISPATCH_LOG_*). `json` = None picks JSON when stderr is not a terminal."""

    model_config = _config("LOG_")

    level: str = "INFO"
    json_output: bool | None = Field(None, alias="GRIDDISPATCH_LOG_JSON")
