-- People as users: persons (imported from the registry's `people`, or added by an administrator), the roles each
-- holds in a unit, and an audit of everything that changes who may do what. Sign-in sessions (0010), duty rosters
-- (0011) and the responsible person on cases (0012) build on these tables.

CREATE TABLE persons (
    id                  text        PRIMARY KEY,      -- the registry's person id, or one given by an administrator
    name                text        NOT NULL,
    username            text        UNIQUE,           -- optional sign-in name (lower case)
    phone               text,                         -- as recorded; masked in every read without personal_data
    status              text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    source              text        NOT NULL DEFAULT 'manual' CHECK (source IN ('registry', 'manual', 'oidc')),
    password_hash       text,                         -- Argon2id (shared/people/passwords.py); NULL: no password sign-in
    password_changed_at timestamptz,
    failed_sign_ins     integer     NOT NULL DEFAULT 0,   -- consecutive; reset by a successful sign-in
    locked_until        timestamptz,
    oidc_subject        text        UNIQUE,           -- issuer + '|' + sub of the single sign-on account linked to it
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX persons_phone ON persons (phone) WHERE phone IS NOT NULL;

-- A role held in one unit (unit:<code>, department:<code>, branch:<code>, or * for the whole district).
CREATE TABLE person_roles (
    person_id  text        NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    role       text        NOT NULL,
    unit       text        NOT NULL,
    source     text        NOT NULL DEFAULT 'manual' CHECK (source IN ('registry', 'manual', 'oidc')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by text        NOT NULL,
    PRIMARY KEY (person_id, role, unit)
);
CREATE INDEX person_roles_unit ON person_roles (unit, role);

-- Sign-ins, failures, lockouts, role and status changes, password changes: never a password or a token.
CREATE TABLE people_audit (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    person_id text,                                   -- whom it concerns (NULL: an unknown login name)
    event     text        NOT NULL,                   -- sign_in, sign_in_failed, locked, role_granted, ...
    actor     text        NOT NULL,                   -- person:<id>, client:<uuid>, cli:<os user>, registry, system
    detail    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX people_audit_person ON people_audit (person_id, at DESC);
CREATE INDEX people_audit_at ON people_audit (at DESC);
