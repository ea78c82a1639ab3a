-- The audit entries (R12.2, R16.2). Rows are only ever inserted: no code
-- path updates or deletes them, and migration 0003 makes the database refuse it.
-- Actor columns carry no foreign key: an entry outlives whatever it names.
-- The table has no secondary index, so an append touches one B-tree: the
-- lookups by organisation, user, action and object go through an index
-- the tree integrator fills in batches (0009). On SQLite the ID is the plain
-- rowid, not AUTOINCREMENT: rows are never deleted, so an ID is never
-- reused anyway, and AUTOINCREMENT would write its counter's page in every
-- commit (a fifth more appends a second without it).
CREATE TABLE audit_entries (
    id {{rowid}},
    at {{ts}} NOT NULL,
    actor_user_id BIGINT,
    actor_login TEXT NOT NULL,
    actor_org_id BIGINT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    request_id TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT ''
)
