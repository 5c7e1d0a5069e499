-- Supervision (督办) of a case: its supervisor (the rung a missed deadline put on it under the `supervise`
-- policy), the accept-by and resolve-by deadlines its current lead missed, and its open supervision orders
-- (督办单; each order's reply-by is a deadline of kind `order_reply` whose id is the order's). Dispatch writes it
-- with the rest of the row; a new lead starts with '{}'. Answered and escalated orders live in case_events.

ALTER TABLE cases ADD COLUMN supervision jsonb NOT NULL DEFAULT '{}';

-- The console's open orders of an area: the cases that have any.
CREATE INDEX cases_open_orders ON cases (case_id) WHERE jsonb_array_length(coalesce(supervision->'orders', '[]')) > 0;
