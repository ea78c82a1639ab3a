-- Data quality (R6.2, internal/quality): each resource's rule declarations
-- with their whole history (a change appends a version; the highest wins),
-- runs over loaded versions with their scores, per-rule and per-dimension
-- results, and samples of failing rows. Samples hold raw values and are
-- kept in their own table, readable only through the holding department's
-- and the agency's path in the service. Rows are never updated.
CREATE TABLE quality_rules (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    holder_org_id BIGINT NOT NULL,
    rule_count INTEGER NOT NULL,
    schedule TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    set_by BIGINT NOT NULL,
    set_by_login TEXT NOT NULL,
    set_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX quality_rules_version ON quality_rules (resource_id, version)
-- ;
CREATE TABLE quality_runs (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    holder_org_id BIGINT NOT NULL,
    rules_version INTEGER NOT NULL,
    table_name TEXT NOT NULL,
    data_version INTEGER NOT NULL,
    trigger_kind TEXT NOT NULL,
    -- ok, or failed with error naming the message key.
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    row_count BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    scans INTEGER NOT NULL,
    run_by BIGINT NOT NULL,
    run_by_login TEXT NOT NULL,
    started_at {{ts}} NOT NULL,
    finished_at {{ts}} NOT NULL
)
-- ;
CREATE INDEX quality_runs_resource ON quality_runs (resource_id, id)
-- ;
CREATE TABLE quality_results (
    run_id BIGINT NOT NULL REFERENCES quality_runs (id),
    position INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    dimension TEXT NOT NULL,
    columns_json TEXT NOT NULL,
    checked BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    pass_ratio DOUBLE PRECISION NOT NULL,
    latest TEXT NOT NULL DEFAULT '',
    max_age_days INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, position)
)
-- ;
CREATE TABLE quality_dimensions (
    run_id BIGINT NOT NULL REFERENCES quality_runs (id),
    dimension TEXT NOT NULL,
    rules INTEGER NOT NULL,
    pass_ratio DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, dimension)
)
-- ;
CREATE TABLE quality_samples (
    run_id BIGINT NOT NULL REFERENCES quality_runs (id),
    position INTEGER NOT NULL,
    holder_org_id BIGINT NOT NULL,
    rule_id TEXT NOT NULL,
    key_value TEXT NOT NULL,
    value TEXT NOT NULL,
    occurrences BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, position)
)
