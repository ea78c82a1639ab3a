-- The tree, like the entries, only grows.
CREATE TRIGGER audit_leaves_no_change BEFORE UPDATE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit leaves are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit leaves are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log definition is fixed: UPDATE refused');
END
