-- Supply (R5, R6): versions of each resource's data loaded into the domain,
-- their column profiles, the privacy tags of each column with their whole
-- history (a change appends a row; the latest row wins) and the column that
-- identifies the privacy unit (person, enterprise) of a resource.
CREATE TABLE supply_versions (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    table_name TEXT NOT NULL,
    source_name TEXT NOT NULL,
    format TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    byte_count BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    loaded_by BIGINT NOT NULL,
    loaded_by_login TEXT NOT NULL,
    loaded_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX supply_versions_resource ON supply_versions (resource_id, version)
-- ;
CREATE UNIQUE INDEX supply_versions_table ON supply_versions (table_name)
-- ;
CREATE TABLE supply_column_profiles (
    version_id BIGINT NOT NULL REFERENCES supply_versions (id),
    position INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    column_type TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    null_count BIGINT NOT NULL,
    distinct_estimate BIGINT NOT NULL,
    min_value TEXT NOT NULL DEFAULT '',
    max_value TEXT NOT NULL DEFAULT '',
    -- JSON array of {value, count}; empty for identifier and sensitive columns.
    top_values TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (version_id, column_name)
)
-- ;
CREATE TABLE supply_column_tags (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    tag TEXT NOT NULL,
    detector TEXT NOT NULL DEFAULT '',
    confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
    -- JSON counts the detector saw; never values.
    evidence TEXT NOT NULL DEFAULT '{}',
    -- 0 and NULL while only proposed.
    confirmed_by BIGINT NOT NULL DEFAULT 0,
    confirmed_by_login TEXT NOT NULL DEFAULT '',
    confirmed_at {{ts}},
    reason TEXT NOT NULL DEFAULT '',
    recorded_at {{ts}} NOT NULL
)
-- ;
CREATE INDEX supply_column_tags_latest ON supply_column_tags (resource_id, column_name, id)
-- ;
CREATE TABLE supply_privacy_units (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    set_by BIGINT NOT NULL,
    set_by_login TEXT NOT NULL,
    set_at {{ts}} NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
)
-- ;
CREATE INDEX supply_privacy_units_latest ON supply_privacy_units (resource_id, id)
