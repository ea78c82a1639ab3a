-- Lookup keys of integrated entries ("org:12", "obj:organization:5" …),
-- written with their leaves by the integrator; entries not yet integrated
-- are found by scanning the short tail above the last leaf. WITHOUT ROWID:
-- the primary key is the table, one B-tree to write instead of two.
CREATE TABLE audit_entry_keys (
    key TEXT NOT NULL,
    entry_id BIGINT NOT NULL,
    PRIMARY KEY (key, entry_id)
) WITHOUT ROWID
