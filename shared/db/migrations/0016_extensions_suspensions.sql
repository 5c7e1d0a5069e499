-- The clock of a case beyond its deadlines (延期, 挂起): the extension or suspension its lead asked for and the
-- supervising level has not decided yet, the extensions approved since the lead was assigned, and a suspension in
-- force with what was left of each deadline it stopped (shared/domain/case/clock.py). Dispatch writes it with the
-- rest of the row; a new lead starts with '{}'. Requests, decisions and resumes live in case_events.

ALTER TABLE cases ADD COLUMN clock jsonb NOT NULL DEFAULT '{}';

-- The console's cases awaiting a decision or suspended: the cases that have any.
CREATE INDEX cases_clock_pending ON cases (case_id) WHERE clock ?| ARRAY['extension_asked', 'suspension_asked', 'suspended'];
