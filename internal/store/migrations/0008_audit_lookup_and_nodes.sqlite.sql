-- Lookup keys of integrated entries ("org:12", "obj:organization:5" …),
-- written with their leaves by the integrator; entries not yet integrated
-- are found by scanning the short tail above the last leaf. WITHOUT ROWID:
-- the primary key is the table, one B-tree to write instead of two.
CREATE TABLE audit_entry_keys (
    key TEXT NOT NULL,
    entry_id BIGINT NOT NULL,
    PRIMARY KEY (key, entry_id)
) WITHOUT ROWID
-- ;
-- Interior nodes of complete subtrees, for proofs. WITHOUT ROWID, like the keys.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID
-- ;
CREATE TRIGGER audit_nodes_no_change BEFORE UPDATE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit nodes are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit nodes are append-only: DELETE refused');
END
