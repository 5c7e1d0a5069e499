-- What dispatch needs beyond the case tables: the transactional outbox, actions that overtook their report,
-- the deadlines escalation watches, and plain coordinates for finding duplicate reports nearby.

ALTER TABLE cases ADD COLUMN lon double precision, ADD COLUMN lat double precision;
CREATE INDEX cases_open_matter_recent ON cases (matter_code, received_at DESC)
    WHERE state IN ('assigned', 'accepted', 'in_progress', 'returned', 'escalated', 'reopened');

-- Events written in the same transaction as the change they announce, published after commit.
-- A crash between commit and publish leaves rows here; they are published again on restart.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    event_id     text        NOT NULL,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    value        bytea       NOT NULL,
    headers      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    UNIQUE (event_id, topic)
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- An action can reach dispatch before its case's report does (different topics): it waits here and is
-- applied, in arrival order, in the transaction that creates the case.
CREATE TABLE pending_actions (
    event_id    text        PRIMARY KEY,
    case_id     uuid        NOT NULL,
    value       bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_actions_case ON pending_actions (case_id, received_at);

-- Every deadline of every case. Escalation claims due rows by next_fire_at; dispatch opens and closes them.
CREATE TABLE deadlines (
    deadline_id  uuid        PRIMARY KEY,
    case_id      uuid        NOT NULL REFERENCES cases (case_id),
    kind         text        NOT NULL,            -- accept, resolve, report_in, verify, follow_up
    party        text        NOT NULL,            -- who owes it: unit:<code>, branch:<code>, department:<code>
    starts_at    timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    warn_times   timestamptz[] NOT NULL DEFAULT '{}',
    next_fire_at timestamptz NOT NULL,            -- the first warning not yet fired, else due_at
    fired        integer     NOT NULL DEFAULT 0,  -- how many tiers (warnings, then overdue) have fired
    status       text        NOT NULL DEFAULT 'open',  -- open, met (done in time or late), void (no longer owed)
    created_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX deadlines_due ON deadlines (next_fire_at) WHERE status = 'open';
CREATE INDEX deadlines_case ON deadlines (case_id) WHERE status = 'open';
