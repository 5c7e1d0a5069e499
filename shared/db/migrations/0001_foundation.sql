-- Foundation: the consumer idempotency ledger every service shares.
-- A consumer records each event id it has applied in the same transaction as the effect, so a redelivered
-- event (Kafka is at least once) is recognised and changes nothing.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
