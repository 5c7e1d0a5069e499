-- notify: who wants what (subscriptions), every delivery and every attempt at it, and the per-unit live stream.

CREATE TABLE subscriptions (
    id              uuid        PRIMARY KEY,
    client_id       uuid        NOT NULL REFERENCES api_clients (id),
    name            text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'sms', 'email')),
    target          text        NOT NULL,               -- URL, phone number or e-mail address
    secret          text,                               -- webhook signing secret
    previous_secret text,                               -- still accepted by receivers during a rotation
    units           text[]      NOT NULL DEFAULT '{}',  -- scope keys (unit:, branch:, department:); empty: all it may see
    matter_types    text[]      NOT NULL DEFAULT '{}',
    event_types     text[]      NOT NULL DEFAULT '{}',
    levels          text[]      NOT NULL DEFAULT '{}',
    active          boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, recipient, channel): a redelivered event creates nothing new.
CREATE TABLE deliveries (
    id              bigserial   PRIMARY KEY,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    case_id         uuid,
    recipient       text        NOT NULL,               -- subscription:<id> or person:<id> or reporter:<case>
    subscription_id uuid        REFERENCES subscriptions (id),
    channel         text        NOT NULL,
    target          text        NOT NULL,
    urgent          boolean     NOT NULL DEFAULT false, -- escalations and emergencies: never held back
    payload         bytea       NOT NULL,               -- the CloudEvent JSON
    status          text        NOT NULL DEFAULT 'pending',  -- pending, delivered, grouped, suppressed, dead
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_dead ON deliveries (created_at) WHERE status = 'dead';
CREATE INDEX deliveries_recipient_recent ON deliveries (recipient, channel, created_at DESC);

CREATE TABLE delivery_attempts (
    id          bigserial   PRIMARY KEY,
    delivery_id bigint      NOT NULL REFERENCES deliveries (id),
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    outcome     text        NOT NULL,                   -- delivered, retry, failed
    status_code integer,
    latency_ms  integer,
    error       text
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt);

-- The live stream of each unit, kept so a client that reconnects resumes from its Last-Event-ID.
CREATE TABLE stream_events (
    id       bigserial   PRIMARY KEY,
    unit     text        NOT NULL,                      -- unit:<code>, branch:<code> or department:<code>
    event_id text        NOT NULL,
    type     text        NOT NULL,
    case_id  uuid,
    body     jsonb       NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (unit, event_id)
);
CREATE INDEX stream_events_unit ON stream_events (unit, id);

CREATE FUNCTION notify_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('griddispatch_stream', '');
    RETURN NULL;
END $$;
CREATE TRIGGER stream_events_notify AFTER INSERT ON stream_events FOR EACH STATEMENT EXECUTE FUNCTION notify_stream();
