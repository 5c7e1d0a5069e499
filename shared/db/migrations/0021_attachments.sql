-- Photos and attachments as real files (shared/attachments/, docs/storage.md). A row is one upload: who sent it,
-- the case it is bound to (NULL until a report or an action names it), where its served copy and thumbnail are
-- stored (the local disk or an object store, by key), and what its EXIF said about where and when it was taken
-- (kept here for the case; every served copy is re-encoded without it). The original file is never stored.
CREATE TABLE attachments (
    id               uuid        PRIMARY KEY,
    uploaded_by      uuid        NOT NULL,   -- the API client (a signed-in person's is derived from the person)
    uploader_person  text,                   -- the person's id when a person uploaded
    idempotency_key  text,
    case_id          uuid,                   -- NULL: not bound yet (may be pruned after a day)
    bound_at         timestamptz,
    role             text        NOT NULL CHECK (role IN ('before', 'after', 'evidence')),
    content_type     text        NOT NULL,   -- of the served copies: image/jpeg
    original_type    text        NOT NULL,   -- what the upload's content was: image/jpeg, image/png, image/heic, ...
    original_bytes   bigint      NOT NULL,
    sha256           text        NOT NULL,   -- of the uploaded bytes
    bytes            bigint      NOT NULL,   -- of the served copy
    width            integer     NOT NULL,
    height           integer     NOT NULL,
    storage_key      text        NOT NULL,
    thumbnail_key    text        NOT NULL,
    thumbnail_bytes  bigint      NOT NULL,
    exif_lat         double precision,
    exif_lon         double precision,
    exif_taken_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((case_id IS NULL) = (bound_at IS NULL))
);
CREATE UNIQUE INDEX attachments_idempotency ON attachments (uploaded_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX attachments_of_case ON attachments (case_id, created_at) WHERE case_id IS NOT NULL;
CREATE INDEX attachments_unbound ON attachments (created_at) WHERE case_id IS NULL;
