-- The full reporter (name, phone) is kept by intake with its submission and copied into the case by dispatch:
-- the reports topic carries it masked (docs/events.md, "Personal data on the topics").
ALTER TABLE submissions ADD COLUMN reporter jsonb;

-- DELETE /v1/subscriptions/{id} deletes: the row stays only so that its deliveries keep their history.
ALTER TABLE subscriptions ADD COLUMN deleted_at timestamptz;
