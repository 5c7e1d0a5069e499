-- Assessment (考核): the weights of the score as the district sets them. Append-only: every change is a new
-- row with who made it and when; the newest row is the weights in force, and with no row the defaults of
-- shared/domain/assessment.py (Weights) apply.

CREATE TABLE assessment_weights (
    id         bigserial   PRIMARY KEY,
    weights    jsonb       NOT NULL,                  -- every weight by name (accepted_on_time, ..., urged)
    changed_by text        NOT NULL,                  -- person:<id> or client:<uuid>
    changed_at timestamptz NOT NULL DEFAULT now(),
    note       text        NOT NULL DEFAULT ''
);
