-- The lookup index becomes postings: one row per key and integration
-- batch, the entry IDs delta-encoded in a blob (see internal/audit,
-- postings.go), instead of a row per key and entry. The old rows are
-- derived data: the server rebuilds the postings from the entries at start.
CREATE TABLE audit_postings (
    key TEXT NOT NULL,
    last_id BIGINT NOT NULL,
    ids BYTEA NOT NULL,
    PRIMARY KEY (key, last_id)
)
-- ;
DROP TABLE audit_entry_keys
