-- Duty rosters (值班表): a unit's weekly shifts and its one-off swaps (shared/people/duty.py reads them). A change
-- to persons' status, their roles or a roster is announced on 'griddispatch_people', so dispatch reloads the people
-- snapshot it assigns responsible persons from (services/dispatch/people_holder.py) without a query per event.

CREATE TABLE roster_shifts (
    id          bigserial   PRIMARY KEY,
    unit        text        NOT NULL,                 -- unit:<code>, department:<code> or branch:<code>
    position    integer     NOT NULL,                 -- the shift's place in the roster (earlier shifts list first)
    name        text        NOT NULL DEFAULT '',      -- "day", "night", ...
    start_time  time        NOT NULL,                 -- local time of the district
    end_time    time        NOT NULL,                 -- not after start_time: runs past midnight (equal: 24 hours)
    days        text        NOT NULL DEFAULT 'every' CHECK (days IN ('working', 'rest', 'every')),
    weekdays    smallint[]  NOT NULL DEFAULT '{}',    -- 0 = Monday .. 6 = Sunday; empty: any weekday
    persons     text[]      NOT NULL CHECK (cardinality(persons) > 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL,
    UNIQUE (unit, position)
);

-- A person replaced by another on the unit's shifts that start from first_day to last_day (inclusive).
CREATE TABLE roster_swaps (
    id          bigserial   PRIMARY KEY,
    unit        text        NOT NULL,
    first_day   date        NOT NULL,
    last_day    date        NOT NULL CHECK (last_day >= first_day),
    replaced    text        NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    by_person   text        NOT NULL REFERENCES persons (id) ON DELETE CASCADE CHECK (by_person <> replaced),
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL
);
CREATE INDEX roster_swaps_unit ON roster_swaps (unit, last_day);

CREATE FUNCTION notify_people() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('griddispatch_people', TG_TABLE_NAME);
    RETURN NULL;
END $$;

-- persons: only what changes who may answer for a case (not sign-in counters or passwords)
CREATE TRIGGER persons_notify_people AFTER INSERT OR DELETE OR UPDATE OF status ON persons
    FOR EACH STATEMENT EXECUTE FUNCTION notify_people();
CREATE TRIGGER person_roles_notify_people AFTER INSERT OR UPDATE OR DELETE ON person_roles
    FOR EACH STATEMENT EXECUTE FUNCTION notify_people();
CREATE TRIGGER roster_shifts_notify_people AFTER INSERT OR UPDATE OR DELETE ON roster_shifts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_people();
CREATE TRIGGER roster_swaps_notify_people AFTER INSERT OR UPDATE OR DELETE ON roster_swaps
    FOR EACH STATEMENT EXECUTE FUNCTION notify_people();
