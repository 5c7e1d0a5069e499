-- Sign-in sessions of people (docs/people.md, "Signing in"). A session is what a sign-in (password or single
-- sign-on) starts and what revocation ends; its short-lived access tokens name it (`sid`), so every request
-- checks it is still live. The refresh token is stored as a SHA-256 hash only, and replaced at each use: one
-- that was already replaced and comes back (a stolen copy, or the thief's) revokes the whole session.

CREATE TABLE person_sessions (
    id            uuid        PRIMARY KEY,
    person_id     text        NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    method        text        NOT NULL CHECK (method IN ('password', 'oidc')),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,               -- absolute end, however often it is refreshed
    last_used_at  timestamptz NOT NULL,               -- the last sign-in or refresh: the idle timeout counts from it
    refresh_hash  text        NOT NULL UNIQUE,        -- SHA-256 (hex) of the current refresh token
    refreshed     integer     NOT NULL DEFAULT 0,     -- how many times the refresh token was rotated
    revoked_at    timestamptz,
    revoke_reason text,                               -- signed_out, revoked, revoked_by_admin, refresh_reuse
    user_agent    text,
    ip            text
);
CREATE INDEX person_sessions_person ON person_sessions (person_id, created_at DESC);

-- Refresh tokens already replaced: presenting one again is reuse, and ends its session.
CREATE TABLE person_session_spent_refresh (
    token_hash text        PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES person_sessions (id) ON DELETE CASCADE,
    spent_at   timestamptz NOT NULL
);
CREATE INDEX person_session_spent_refresh_session ON person_session_spent_refresh (session_id);

-- The access tokens' HMAC key when GRIDDISPATCH_AUTH_TOKEN_SECRET is not set: generated once by the first
-- process that needs it, read by every other (intake workers, notify), so all of them accept the same tokens.
CREATE TABLE token_signing_key (
    id         integer     PRIMARY KEY CHECK (id = 1),
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A signed-in person reports and acts as a principal of their own (shared/people/principal.py: a uuid derived
-- from the person's id), not as a row of api_clients: `client_id` of these two ledgers names the caller, an API
-- client or a person's principal, so it no longer references api_clients. (Subscriptions stay with API clients.)
ALTER TABLE submissions DROP CONSTRAINT submissions_client_id_fkey;
ALTER TABLE action_requests DROP CONSTRAINT action_requests_client_id_fkey;
