-- audit_leaves was keyed by "BIGINT PRIMARY KEY", which SQLite does not
-- take as its rowid: every leaf went into three B-trees (rows, the key,
-- the entry index), all written by the integrator under the single write
-- lock that appends wait for. Rebuilt with the leaf index as the rowid:
-- two B-trees. The rows are copied as they are; DROP TABLE fires no
-- DELETE trigger, and the append-only triggers are recreated.
CREATE TABLE audit_leaves_new (
    leaf_index INTEGER PRIMARY KEY,
    entry_id BIGINT NOT NULL,
    hash BLOB NOT NULL
)
-- ;
INSERT INTO audit_leaves_new (leaf_index, entry_id, hash) SELECT leaf_index, entry_id, hash FROM audit_leaves ORDER BY leaf_index
-- ;
DROP TABLE audit_leaves
-- ;
ALTER TABLE audit_leaves_new RENAME TO audit_leaves
-- ;
CREATE UNIQUE INDEX audit_leaves_entry ON audit_leaves (entry_id)
-- ;
CREATE TRIGGER audit_leaves_no_change BEFORE UPDATE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit leaves are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit leaves are append-only: DELETE refused');
END
