"""SQL on the shared tables, one module per table (cases, case_events, deadlines, submissions, action_requests,
processed_events, deliveries; the outbox's is shared/outbox.py): every statement more than one place needs, and
the filters reads share. The row is the contract between the service that writes it and those that read it."""
