-- Residents' rating links (docs/intake-api.md, "Residents' self-service"): the key notify signs them with and
-- intake checks them with (unless GRIDDISPATCH_RESIDENT_LINK_SECRET is set), and every link already used: a link
-- works once, whichever intake process answers it.
CREATE TABLE rating_link_key (
    id     integer     PRIMARY KEY CHECK (id = 1),
    secret bytea       NOT NULL,
    made_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rating_links_used (
    token_id uuid        PRIMARY KEY,                   -- the link's jti
    case_id  uuid        NOT NULL REFERENCES cases (case_id),
    level    text        NOT NULL CHECK (level IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    event_id uuid        NOT NULL,                      -- the rate action it published
    used_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rating_links_used_case ON rating_links_used (case_id);
