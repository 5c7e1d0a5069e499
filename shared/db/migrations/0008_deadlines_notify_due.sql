-- Wake escalation workers only when they must: the notification now carries the earliest next_fire_at of the
-- open deadlines the statement inserted (seconds since the epoch, as text), so a worker whose next planned
-- wake is sooner ignores it (services/escalation/worker.py). Before, every dispatch transaction woke every
-- worker with nothing due (bench.end_to_end: one claim transaction per case). No notification when nothing
-- open was inserted. Payloads differ, so PostgreSQL no longer folds them: one per inserting statement.
CREATE OR REPLACE FUNCTION notify_deadlines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    due timestamptz;
BEGIN
    SELECT min(next_fire_at) INTO due FROM new_deadlines WHERE status = 'open';
    IF due IS NOT NULL THEN
        PERFORM pg_notify('griddispatch_deadlines', extract(epoch FROM due)::text);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER deadlines_notify ON deadlines;
CREATE TRIGGER deadlines_notify AFTER INSERT ON deadlines REFERENCING NEW TABLE AS new_deadlines
    FOR EACH STATEMENT EXECUTE FUNCTION notify_deadlines();
