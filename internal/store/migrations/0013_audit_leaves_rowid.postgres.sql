-- Nothing to do on PostgreSQL: 0013 rebuilds SQLite's audit_leaves with the
-- leaf index as its rowid (see the .sqlite.sql file).
SELECT 1
