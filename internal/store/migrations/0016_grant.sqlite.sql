-- Authorization (R7-R11, R16): implementation plans (实施方案) with their
-- versions, the resources each covers, the government's decision record
-- and the filing with the provincial authority; operator selection with
-- the R10.2 checklist per candidate; operating agreements (运营协议) with
-- their scope, life cycle, filing and handover; and a timeline of every
-- step linked to its audit entry. Dates of the regulation's calendar
-- (terms, filing deadlines, ends) are stored as YYYY-MM-DD text: they are
-- days in China's time zone, not instants.
CREATE TABLE grant_plans (
    id {{pk}},
    -- The first version's id; every version of one plan shares it (R9.2).
    lineage_id BIGINT NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    previous_id BIGINT REFERENCES grant_plans (id),
    region_code TEXT NOT NULL,
    author_org_id BIGINT NOT NULL REFERENCES organizations (id),
    title TEXT NOT NULL,
    mode TEXT NOT NULL,
    term_start TEXT NOT NULL,
    term_end TEXT NOT NULL,
    -- The whole plan form as JSON (the national specification's contents).
    contents TEXT NOT NULL,
    -- draft, submitted, decided, rejected, superseded
    state TEXT NOT NULL,
    change_reason TEXT NOT NULL DEFAULT '',
    submitted_at {{ts}},
    -- The 三重一大 decision record as JSON.
    decision TEXT NOT NULL DEFAULT '',
    decided_at {{ts}},
    -- '' (not due or not yet filed), filed, acknowledged, returned
    filing_state TEXT NOT NULL DEFAULT '',
    filing_due TEXT NOT NULL DEFAULT '',
    filed_at {{ts}},
    filing_closed_at {{ts}},
    filing_note TEXT NOT NULL DEFAULT '',
    created_by BIGINT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX grant_plans_version ON grant_plans (lineage_id, version)
-- ;
CREATE INDEX grant_plans_region ON grant_plans (region_code, state)
-- ;
-- The resources a plan covers, as the registry described them when the
-- plan was drafted.
CREATE TABLE grant_plan_resources (
    plan_id BIGINT NOT NULL REFERENCES grant_plans (id),
    resource_id BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    grade TEXT NOT NULL,
    PRIMARY KEY (plan_id, resource_id)
)
-- ;
CREATE TABLE grant_selections (
    id {{pk}},
    plan_id BIGINT NOT NULL REFERENCES grant_plans (id),
    region_code TEXT NOT NULL,
    agency_org_id BIGINT NOT NULL REFERENCES organizations (id),
    title TEXT NOT NULL,
    method TEXT NOT NULL,
    notice_ref TEXT NOT NULL DEFAULT '',
    -- open, concluded, failed
    state TEXT NOT NULL,
    winner_org_id BIGINT REFERENCES organizations (id),
    result_note TEXT NOT NULL DEFAULT '',
    created_by BIGINT NOT NULL,
    created_at {{ts}} NOT NULL,
    concluded_at {{ts}},
    updated_at {{ts}} NOT NULL
)
-- ;
CREATE INDEX grant_selections_plan ON grant_selections (plan_id)
-- ;
-- Each candidate's R10.2 checklist (JSON, item by item with evidence) and
-- its evaluation.
CREATE TABLE grant_candidates (
    selection_id BIGINT NOT NULL REFERENCES grant_selections (id),
    operator_org_id BIGINT NOT NULL REFERENCES organizations (id),
    checklist TEXT NOT NULL,
    score INTEGER,
    evaluation TEXT NOT NULL DEFAULT '',
    added_at {{ts}} NOT NULL,
    PRIMARY KEY (selection_id, operator_org_id)
)
-- ;
CREATE TABLE grant_agreements (
    id {{pk}},
    plan_id BIGINT NOT NULL REFERENCES grant_plans (id),
    selection_id BIGINT NOT NULL REFERENCES grant_selections (id),
    region_code TEXT NOT NULL,
    agency_org_id BIGINT NOT NULL REFERENCES organizations (id),
    operator_org_id BIGINT NOT NULL REFERENCES organizations (id),
    title TEXT NOT NULL,
    -- draft, decided, signed, active, suspended, terminated, expired
    state TEXT NOT NULL,
    term_start TEXT NOT NULL,
    term_end TEXT NOT NULL,
    -- The purposes (scenarios) data may be used for, one a line; empty:
    -- any purpose within the plan. Kept apart from terms for the scope check.
    purposes TEXT NOT NULL DEFAULT '',
    -- The agreement's terms as JSON (obligations, pricing, return, exit …).
    terms TEXT NOT NULL,
    decision TEXT NOT NULL DEFAULT '',
    decided_at {{ts}},
    agency_signed_at {{ts}},
    agency_signer TEXT NOT NULL DEFAULT '',
    operator_signed_at {{ts}},
    operator_signer TEXT NOT NULL DEFAULT '',
    -- The R15 prohibitions the operator acknowledged when signing (JSON).
    operator_acks TEXT NOT NULL DEFAULT '',
    signed_at {{ts}},
    filing_state TEXT NOT NULL DEFAULT '',
    filing_due TEXT NOT NULL DEFAULT '',
    filed_at {{ts}},
    filing_closed_at {{ts}},
    filing_note TEXT NOT NULL DEFAULT '',
    activated_at {{ts}},
    -- When the public portal first showed it (R19.2).
    disclosed_at {{ts}},
    state_changed_at {{ts}},
    state_reason TEXT NOT NULL DEFAULT '',
    ended_on TEXT NOT NULL DEFAULT '',
    retention_until TEXT NOT NULL DEFAULT '',
    handover_closed_at {{ts}},
    created_by BIGINT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
)
-- ;
-- The scope check reads an operator's agreements by this index.
CREATE INDEX grant_agreements_operator ON grant_agreements (operator_org_id, state)
-- ;
CREATE INDEX grant_agreements_agency ON grant_agreements (agency_org_id, state)
-- ;
CREATE INDEX grant_agreements_plan ON grant_agreements (plan_id)
-- ;
CREATE TABLE grant_agreement_scope (
    agreement_id BIGINT NOT NULL REFERENCES grant_agreements (id),
    resource_id BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    grade TEXT NOT NULL,
    PRIMARY KEY (agreement_id, resource_id)
)
-- ;
-- The handover checklist opened when an agreement ends (R16.2), closed
-- by the agency item by item.
CREATE TABLE grant_handover_items (
    agreement_id BIGINT NOT NULL REFERENCES grant_agreements (id),
    item TEXT NOT NULL,
    opened_at {{ts}} NOT NULL,
    closed_at {{ts}},
    closed_by BIGINT,
    evidence TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agreement_id, item)
)
-- ;
-- Every step of a plan, selection or agreement, with its audit entry;
-- rows are only appended.
CREATE TABLE grant_events (
    id {{pk}},
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    step TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor_user_id BIGINT,
    actor_login TEXT NOT NULL,
    actor_org_id BIGINT,
    at {{ts}} NOT NULL,
    audit_id BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
)
-- ;
CREATE INDEX grant_events_object ON grant_events (object_type, object_id, id)
-- ;
-- A plan is frozen once submitted; a change is a new version through the
-- whole process (R9.2). The code keeps to this; the database enforces it.
CREATE TRIGGER grant_plans_frozen BEFORE UPDATE ON grant_plans
WHEN OLD.state <> 'draft' AND (NEW.title IS NOT OLD.title OR NEW.mode IS NOT OLD.mode
    OR NEW.term_start IS NOT OLD.term_start OR NEW.term_end IS NOT OLD.term_end
    OR NEW.contents IS NOT OLD.contents OR NEW.region_code IS NOT OLD.region_code)
BEGIN
    SELECT RAISE(ABORT, 'grant: a plan is frozen once submitted (R9.2): UPDATE refused');
END
-- ;
CREATE TRIGGER grant_plan_resources_frozen_insert BEFORE INSERT ON grant_plan_resources
WHEN (SELECT state FROM grant_plans WHERE id = NEW.plan_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'grant: a plan is frozen once submitted (R9.2): INSERT refused');
END
-- ;
CREATE TRIGGER grant_plan_resources_frozen_delete BEFORE DELETE ON grant_plan_resources
WHEN (SELECT state FROM grant_plans WHERE id = OLD.plan_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'grant: a plan is frozen once submitted (R9.2): DELETE refused');
END
-- ;
-- An agreement's terms and scope are frozen once the agency has decided it.
CREATE TRIGGER grant_agreements_frozen BEFORE UPDATE ON grant_agreements
WHEN OLD.state <> 'draft' AND (NEW.terms IS NOT OLD.terms OR NEW.purposes IS NOT OLD.purposes OR NEW.term_start IS NOT OLD.term_start
    OR NEW.term_end IS NOT OLD.term_end OR NEW.operator_org_id IS NOT OLD.operator_org_id
    OR NEW.plan_id IS NOT OLD.plan_id OR NEW.title IS NOT OLD.title)
BEGIN
    SELECT RAISE(ABORT, 'grant: an agreement is frozen once decided: UPDATE refused');
END
-- ;
CREATE TRIGGER grant_agreement_scope_frozen_insert BEFORE INSERT ON grant_agreement_scope
WHEN (SELECT state FROM grant_agreements WHERE id = NEW.agreement_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'grant: an agreement is frozen once decided: INSERT refused');
END
-- ;
CREATE TRIGGER grant_agreement_scope_frozen_delete BEFORE DELETE ON grant_agreement_scope
WHEN (SELECT state FROM grant_agreements WHERE id = OLD.agreement_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'grant: an agreement is frozen once decided: DELETE refused');
END
-- ;
CREATE TRIGGER grant_events_no_update BEFORE UPDATE ON grant_events
BEGIN
    SELECT RAISE(ABORT, 'grant events are append-only: UPDATE refused');
END
-- ;
CREATE TRIGGER grant_events_no_delete BEFORE DELETE ON grant_events
BEGIN
    SELECT RAISE(ABORT, 'grant events are append-only: DELETE refused');
END
