-- Single sign-on (OpenID Connect): the sign-ins under way between GET /v1/auth/oidc/login and its callback.
-- A row holds what the callback must check (state, nonce, PKCE verifier, the browser it was started in) for a
-- few minutes; the callback takes it once (DELETE ... RETURNING), so a state is never accepted twice.
CREATE TABLE oidc_logins (
    state          text        PRIMARY KEY,       -- random, 43 characters; in the provider's redirect back
    nonce          text        NOT NULL,          -- must come back in the ID token
    code_verifier  text        NOT NULL,          -- PKCE (S256): only its challenge left this server
    browser_hash   text        NOT NULL,          -- sha256 of the cookie set on the browser that started it
    issuer         text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);
