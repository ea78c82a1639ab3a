-- The audit entries (R12.2, R16.2). Rows are only ever inserted: no code
-- path updates or deletes them, and migration 0003 makes the database refuse it.
-- Actor columns carry no foreign key: an entry outlives whatever it names.
CREATE TABLE audit_entries (
    id {{pk}},
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
-- ;
CREATE INDEX audit_entries_org ON audit_entries (actor_org_id, id)
-- ;
CREATE INDEX audit_entries_object ON audit_entries (object_type, object_id, id)
-- ;
CREATE INDEX audit_entries_action ON audit_entries (action, id)
