-- Lookup keys of integrated entries ("org:12", "obj:organization:5" …),
-- written with their leaves by the integrator; entries not yet integrated
-- are found by scanning the short tail above the last leaf.
CREATE TABLE audit_entry_keys (
    key TEXT NOT NULL,
    entry_id BIGINT NOT NULL,
    PRIMARY KEY (key, entry_id)
)
-- ;
-- Interior nodes of complete subtrees, for proofs.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
)
-- ;
CREATE TRIGGER audit_nodes_no_change BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
