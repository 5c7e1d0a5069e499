-- A case's open consultation (会商): the convener (a street or community), the units and departments it invited,
-- by when their opinions are due and the opinions given (shared/domain/case/consultation.py). Dispatch writes it
-- with the rest of the row; '{}' when none is open (the outcome or a new lead ends it). Each step lives in
-- case_events; each invited party's opinions-by is a deadline of kind `consultation_opinion`.

ALTER TABLE cases ADD COLUMN consultation jsonb NOT NULL DEFAULT '{}';
