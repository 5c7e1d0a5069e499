-- Cases, their history, intake's submission ledger and the API clients.
-- intake writes `submissions` and `api_clients`; dispatch writes `cases` and `case_events`; both read them.

CREATE TABLE api_clients (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    key_prefix   text        NOT NULL,            -- first characters of the key, to recognise it in lists
    key_hash     text        NOT NULL UNIQUE,     -- sha256 of the key; the key itself is shown once, never stored
    scopes       text[]      NOT NULL,            -- submit, read, act, personal_data, admin
    units        text[]      NOT NULL,            -- visibility: unit:<code>, branch:<code>, department:<code>, or *
    source       text,                            -- the report source this client speaks for (hotline, grid_app, ...)
    rate_per_min integer     NOT NULL DEFAULT 600,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE SEQUENCE case_number_seq;

-- One row per accepted report: the idempotency ledger and the "received, being dispatched" state.
CREATE TABLE submissions (
    case_id         uuid        PRIMARY KEY,
    case_number     text        NOT NULL UNIQUE,
    client_id       uuid        NOT NULL REFERENCES api_clients (id),
    idempotency_key text,
    source          text        NOT NULL,
    source_ref      text,
    body_hash       text        NOT NULL,         -- sha256 of the canonical request body
    event_id        text        NOT NULL,
    scope_keys      text[]      NOT NULL,         -- who may see it before dispatch has placed it
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX submissions_idempotency ON submissions (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX submissions_source_ref ON submissions (source, source_ref) WHERE source_ref IS NOT NULL;

CREATE TABLE cases (
    case_id          uuid        PRIMARY KEY,
    case_number      text        NOT NULL UNIQUE,
    state            text        NOT NULL,
    source           text        NOT NULL,
    source_ref       text,
    matter_code      text,
    level            text,
    lead             text,                          -- unit:<code> | branch:<code> | department:<code>
    assisting        text[]      NOT NULL DEFAULT '{}',
    place            text,                          -- the micro-grid (or smallest unit) it happened in
    title            text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    location         jsonb       NOT NULL,
    urgency          text        NOT NULL,
    households       integer     NOT NULL DEFAULT 0,
    reporter         jsonb,                         -- name, phone: personal data, masked on read without the scope
    attachments      text[]      NOT NULL DEFAULT '{}',
    observed_at      timestamptz,
    received_at      timestamptz NOT NULL,
    accept_by        timestamptz,
    resolve_by       timestamptz,
    merged_into      uuid REFERENCES cases (case_id),
    duplicates       integer     NOT NULL DEFAULT 0,
    registry_version text,                          -- the registry the routing decision used
    decision         jsonb,                         -- the routing decision with its rule trace
    progress         jsonb,                         -- lifecycle bookkeeping (parts owed, returns, reopens)
    scope_keys       text[]      NOT NULL,          -- parties, their departments, and the place's ancestors
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_scope ON cases USING gin (scope_keys);
CREATE INDEX cases_state_received ON cases (state, received_at DESC);
CREATE INDEX cases_received ON cases (received_at DESC, case_id);
CREATE INDEX cases_matter ON cases (matter_code);
CREATE INDEX cases_resolve_by_open ON cases (resolve_by) WHERE state NOT IN ('closed', 'cancelled', 'merged');

-- The append-only audit trail: one row per transition (and per comment), in order per case.
CREATE TABLE case_events (
    case_id    uuid        NOT NULL REFERENCES cases (case_id),
    seq        integer     NOT NULL,
    event_id   text        NOT NULL UNIQUE,         -- the id of the event that caused it: the idempotency key
    action     text        NOT NULL,
    from_state text,
    to_state   text        NOT NULL,
    actor      jsonb       NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, seq)
);

-- Actions accepted by intake: a retry with the same Idempotency-Key is answered from here, not re-checked.
CREATE TABLE action_requests (
    event_id        uuid        PRIMARY KEY,
    client_id       uuid        NOT NULL REFERENCES api_clients (id),
    idempotency_key text,
    case_id         uuid        NOT NULL,
    action          text        NOT NULL,
    body_hash       text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX action_requests_idempotency ON action_requests (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
