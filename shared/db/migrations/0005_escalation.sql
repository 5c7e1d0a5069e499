-- Wake escalation workers when deadlines are added: they sleep until the next due time, and a new deadline
-- may be due sooner than that. One notification per statement (PostgreSQL folds repeats in a transaction).
CREATE FUNCTION notify_deadlines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('griddispatch_deadlines', '');
    RETURN NULL;
END $$;

CREATE TRIGGER deadlines_notify AFTER INSERT ON deadlines FOR EACH STATEMENT EXECUTE FUNCTION notify_deadlines();
