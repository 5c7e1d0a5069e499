-- The registry (units, departments, branches, buildings) and the matter catalog, versioned.
-- Each import is a new version holding its validated source files and normalised rows; exactly one version
-- is active, and switching is one UPDATE of registry_active, so readers see the old or the new, never a mix.

CREATE TABLE registry_versions (
    id          bigserial   PRIMARY KEY,
    version     text        NOT NULL UNIQUE,          -- content hash of registry and catalog together
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by text        NOT NULL,
    source      text        NOT NULL,                 -- where the files came from (a path, a URL)
    counts      jsonb       NOT NULL                  -- units per level, departments, branches, buildings, matters
);

CREATE TABLE registry_files (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    name       text   NOT NULL,                       -- units.geojson, departments.yaml, catalog.yaml, buildings.csv
    content    bytea  NOT NULL,
    PRIMARY KEY (version_id, name)
);

CREATE TABLE registry_active (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    version_id  bigint      NOT NULL REFERENCES registry_versions (id),
    switched_at timestamptz NOT NULL DEFAULT now(),
    switched_by text        NOT NULL
);

CREATE TABLE registry_units (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    code       text   NOT NULL,
    name       text   NOT NULL,
    level      text   NOT NULL,
    parent     text,
    boundary   jsonb,                                 -- GeoJSON geometry, WGS84
    people     jsonb  NOT NULL DEFAULT '[]',
    PRIMARY KEY (version_id, code)
);
CREATE INDEX registry_units_parent ON registry_units (version_id, parent);
CREATE INDEX registry_units_level ON registry_units (version_id, level);

CREATE TABLE registry_departments (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    code       text   NOT NULL,
    name       text   NOT NULL,
    name_en    text   NOT NULL,
    PRIMARY KEY (version_id, code)
);

CREATE TABLE registry_branches (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    code       text   NOT NULL,
    department text   NOT NULL,
    name       text   NOT NULL,
    covers     text[] NOT NULL,
    PRIMARY KEY (version_id, code)
);

CREATE TABLE registry_buildings (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    code       text   NOT NULL,
    address    text   NOT NULL,
    micro_grid text   NOT NULL,
    lon        double precision,
    lat        double precision,
    PRIMARY KEY (version_id, code)
);

CREATE TABLE matter_types (
    version_id bigint NOT NULL REFERENCES registry_versions (id) ON DELETE CASCADE,
    code       text   NOT NULL,
    name       text   NOT NULL,
    name_en    text   NOT NULL,
    level      text   NOT NULL,
    lead_department text,
    definition jsonb  NOT NULL,                       -- every field of the catalog entry
    PRIMARY KEY (version_id, code)
);
