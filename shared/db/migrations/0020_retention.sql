-- Retention (shared/retention/): block-range indexes on the columns the retention task ages rows by (rows
-- arrive in time order, so a BRIN index is tiny and finds the old end cheaply), and the highest id deleted
-- where a reader must know (the live streams: a resume from before it is told it missed events).
CREATE INDEX processed_events_age ON processed_events USING brin (processed_at);
CREATE INDEX outbox_published_age ON outbox USING brin (published_at);
CREATE INDEX deliveries_age ON deliveries USING brin (created_at);
CREATE INDEX stream_events_age ON stream_events USING brin (at);

CREATE TABLE retention_marks (
    name  text        PRIMARY KEY,       -- a rule's name (shared/retention/policy.py), e.g. stream_events
    up_to bigint      NOT NULL,          -- the highest key the rule has deleted
    at    timestamptz NOT NULL DEFAULT now()
);
