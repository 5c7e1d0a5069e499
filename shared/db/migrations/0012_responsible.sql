-- The responsible person (派单到人) of each assigned case: of its lead unit, and of each assisting party's part.
-- Dispatch writes them with the rest of the row (one multi-row statement a batch). NULL lead_person on a case
-- with a lead: nobody was on duty and the unit has no head (the unstaffed list, docs/people.md).

ALTER TABLE cases
    ADD COLUMN lead_person  text,
    ADD COLUMN part_persons jsonb  NOT NULL DEFAULT '{}',   -- assisting party -> person id (parties without one omitted)
    ADD COLUMN persons      text[] NOT NULL DEFAULT '{}';   -- every responsible person of the case: "my queue"

CREATE INDEX cases_persons ON cases USING gin (persons);
CREATE INDEX cases_unstaffed ON cases (received_at) WHERE lead IS NOT NULL AND lead_person IS NULL;
