-- The Merkle log over audit_entries (R12.2): which hash suite and signer the
-- log was created with, the leaves in the order entries were committed and
-- the signed checkpoints. (The interior nodes are in 0008, per engine.)
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    suite TEXT NOT NULL,
    origin TEXT NOT NULL,
    verifier_key TEXT NOT NULL,
    created_at {{ts}} NOT NULL
)
-- ;
CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    entry_id BIGINT NOT NULL,
    hash {{bytes}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX audit_leaves_entry ON audit_leaves (entry_id)
-- ;
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root {{bytes}} NOT NULL,
    note TEXT NOT NULL,
    created_at {{ts}} NOT NULL
)
-- ;
-- An integrity failure found by a check, and its acknowledgement by an
-- administrator: until then the platform refuses every write.
CREATE TABLE audit_alarms (
    id {{pk}},
    detected_at {{ts}} NOT NULL,
    entry_id BIGINT NOT NULL,
    leaf_index BIGINT NOT NULL,
    problem TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at {{ts}},
    acknowledgement TEXT
)
