-- Every tamper named, and every audit table append-only (issue 17).
--
-- chain: each leaf's link in a hash chain over the leaf hashes, written by
-- the integrator with the leaf: chain = H(0x02 || previous chain || leaf
-- hash). A leaf hash changed together with its entry no longer matches its
-- link, so the check names that leaf, not only the root. NULL for leaves
-- integrated before this migration (the check starts the chain after them).
ALTER TABLE audit_leaves ADD COLUMN chain BYTEA
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
)
-- ;
-- An alarm may only gain its acknowledgement, once; nothing else changes.
CREATE FUNCTION audit_alarms_only_acknowledge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL
        AND NEW.acknowledged_by IS NOT NULL
        AND NEW.id = OLD.id AND NEW.detected_at = OLD.detected_at AND NEW.entry_id = OLD.entry_id
        AND NEW.leaf_index = OLD.leaf_index AND NEW.problem = OLD.problem
        AND NEW.total = OLD.total AND NEW.overflow = OLD.overflow THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit alarms are append-only (only an acknowledgement may be added): % refused', TG_OP;
END
$$
-- ;
CREATE TRIGGER audit_alarms_no_change BEFORE UPDATE OR DELETE ON audit_alarms
    FOR EACH ROW EXECUTE FUNCTION audit_alarms_only_acknowledge()
-- ;
CREATE TRIGGER audit_alarm_findings_no_change BEFORE UPDATE OR DELETE ON audit_alarm_findings
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_cosigners_no_change BEFORE UPDATE OR DELETE ON audit_cosigners
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_cosignatures_no_change BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_retention_no_change BEFORE UPDATE OR DELETE ON audit_retention
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_postings_no_change BEFORE UPDATE OR DELETE ON audit_postings
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
-- TRUNCATE fires no row trigger: refuse it on every audit table.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_leaves_no_truncate BEFORE TRUNCATE ON audit_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_alarms_no_truncate BEFORE TRUNCATE ON audit_alarms
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_alarm_findings_no_truncate BEFORE TRUNCATE ON audit_alarm_findings
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_cosigners_no_truncate BEFORE TRUNCATE ON audit_cosigners
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_cosignatures_no_truncate BEFORE TRUNCATE ON audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_retention_no_truncate BEFORE TRUNCATE ON audit_retention
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
-- ;
CREATE TRIGGER audit_postings_no_truncate BEFORE TRUNCATE ON audit_postings
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
