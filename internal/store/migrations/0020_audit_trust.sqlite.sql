-- Every tamper named, and every audit table append-only (issue 17).
--
-- chain: each leaf's link in a hash chain over the leaf hashes, written by
-- the integrator with the leaf: chain = H(0x02 || previous chain || leaf
-- hash). A leaf hash changed together with its entry no longer matches its
-- link, so the check names that leaf, not only the root. NULL for leaves
-- integrated before this migration (the check starts the chain after them).
ALTER TABLE audit_leaves ADD COLUMN chain BLOB
-- ;
-- An alarm covers exactly its findings: total counts them, overflow
-- digests those beyond the ones stored one by one.
ALTER TABLE audit_alarms ADD COLUMN total BIGINT NOT NULL DEFAULT 1
-- ;
ALTER TABLE audit_alarms ADD COLUMN overflow TEXT NOT NULL DEFAULT ''
-- ;
CREATE TABLE audit_alarm_findings (
    alarm_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    problem TEXT NOT NULL,
    leaf_index BIGINT NOT NULL,
    leaf_count BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    size BIGINT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (alarm_id, seq)
) WITHOUT ROWID
-- ;
-- An alarm may only gain its acknowledgement, once; nothing else changes.
CREATE TRIGGER audit_alarms_no_change BEFORE UPDATE ON audit_alarms
WHEN OLD.acknowledged_at IS NOT NULL OR NEW.acknowledged_at IS NULL OR NEW.acknowledged_by IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.detected_at IS NOT OLD.detected_at OR NEW.entry_id IS NOT OLD.entry_id
    OR NEW.leaf_index IS NOT OLD.leaf_index OR NEW.problem IS NOT OLD.problem
    OR NEW.total IS NOT OLD.total OR NEW.overflow IS NOT OLD.overflow
BEGIN
    SELECT RAISE(ABORT, 'audit alarms are append-only: only an acknowledgement may be added');
END
-- ;
CREATE TRIGGER audit_alarms_no_delete BEFORE DELETE ON audit_alarms
BEGIN
    SELECT RAISE(ABORT, 'audit alarms are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log definition is fixed: DELETE refused');
END
-- ;
CREATE TRIGGER audit_alarm_findings_no_change BEFORE UPDATE ON audit_alarm_findings
BEGIN
    SELECT RAISE(ABORT, 'audit alarm findings are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_alarm_findings_no_delete BEFORE DELETE ON audit_alarm_findings
BEGIN
    SELECT RAISE(ABORT, 'audit alarm findings are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_cosigners_no_change BEFORE UPDATE ON audit_cosigners
BEGIN
    SELECT RAISE(ABORT, 'audit cosigners are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_cosigners_no_delete BEFORE DELETE ON audit_cosigners
BEGIN
    SELECT RAISE(ABORT, 'audit cosigners are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_cosignatures_no_change BEFORE UPDATE ON audit_cosignatures
BEGIN
    SELECT RAISE(ABORT, 'audit cosignatures are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_cosignatures_no_delete BEFORE DELETE ON audit_cosignatures
BEGIN
    SELECT RAISE(ABORT, 'audit cosignatures are append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_retention_no_change BEFORE UPDATE ON audit_retention
BEGIN
    SELECT RAISE(ABORT, 'audit retention is append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention
BEGIN
    SELECT RAISE(ABORT, 'audit retention is append-only: DELETE refused');
END
-- ;
CREATE TRIGGER audit_postings_no_change BEFORE UPDATE ON audit_postings
BEGIN
    SELECT RAISE(ABORT, 'audit postings are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER audit_postings_no_delete BEFORE DELETE ON audit_postings
BEGIN
    SELECT RAISE(ABORT, 'audit postings are append-only: DELETE refused');
END
