-- Cosigners (e.g. the data authority, a regulator) whose signatures on the
-- log's checkpoints are accepted and published beside the log's own, so that
-- trusting the log no longer means trusting the platform alone.
CREATE TABLE audit_cosigners (
    id {{pk}},
    name TEXT NOT NULL,
    verifier_key TEXT NOT NULL,
    org_id BIGINT,
    added_by TEXT NOT NULL,
    added_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX audit_cosigners_name ON audit_cosigners (name)
-- ;
CREATE TABLE audit_cosignatures (
    size BIGINT NOT NULL,
    cosigner_id BIGINT NOT NULL REFERENCES audit_cosigners (id),
    signature TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    PRIMARY KEY (size, cosigner_id)
)
