-- Data supply governance (internal/governance, R5.2, R5.3, R6.2):
-- corrections and objections with their working-day deadlines, the
-- negative list (负面清单) and the consent of data-sharing providers.
CREATE TABLE gov_cases (
    id {{pk}},
    ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_id BIGINT NOT NULL,
    holder_org_id BIGINT NOT NULL,
    -- public, operator or rule
    source TEXT NOT NULL,
    raiser_user_id BIGINT NOT NULL DEFAULT 0,
    raiser_org_id BIGINT NOT NULL DEFAULT 0,
    -- A public raiser's contact: shown to the holding department only.
    contact TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    rule_name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    raised_at {{ts}} NOT NULL,
    due_on {{ts}} NOT NULL,
    assumed_years TEXT NOT NULL DEFAULT '',
    accepted_at {{ts}},
    verifying_at {{ts}},
    answered_at {{ts}},
    closed_at {{ts}},
    escalated_at {{ts}},
    answer TEXT NOT NULL DEFAULT '',
    updated_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX gov_cases_ref ON gov_cases (ref)
-- ;
CREATE INDEX gov_cases_holder ON gov_cases (holder_org_id, state)
-- ;
CREATE INDEX gov_cases_resource ON gov_cases (resource_id)
-- ;
CREATE INDEX gov_cases_addr ON gov_cases (remote_addr, raised_at)
-- ;
CREATE INDEX gov_cases_contact ON gov_cases (contact, raised_at)
-- ;
CREATE INDEX gov_cases_due ON gov_cases (state, due_on)
-- ;
CREATE TABLE gov_case_steps (
    id {{pk}},
    case_id BIGINT NOT NULL REFERENCES gov_cases (id),
    step TEXT NOT NULL,
    actor_user_id BIGINT NOT NULL DEFAULT 0,
    actor_login TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    at {{ts}} NOT NULL
)
-- ;
CREATE INDEX gov_case_steps_case ON gov_case_steps (case_id, id)
-- ;
CREATE TABLE gov_negative (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    holder_org_id BIGINT NOT NULL,
    basis TEXT NOT NULL,
    -- requested, reviewing, submitted, approved, rejected, withdrawn, lifted
    state TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at {{ts}} NOT NULL,
    reviewed_at {{ts}},
    submitted_at {{ts}},
    decided_at {{ts}},
    decision_meeting TEXT NOT NULL DEFAULT '',
    decision_date {{ts}},
    decision TEXT NOT NULL DEFAULT '',
    decision_ref TEXT NOT NULL DEFAULT '',
    lifted_at {{ts}},
    reason TEXT NOT NULL DEFAULT '',
    updated_at {{ts}} NOT NULL
)
-- ;
CREATE INDEX gov_negative_resource ON gov_negative (resource_id, state)
-- ;
CREATE TABLE gov_negative_steps (
    id {{pk}},
    entry_id BIGINT NOT NULL REFERENCES gov_negative (id),
    step TEXT NOT NULL,
    org_id BIGINT NOT NULL DEFAULT 0,
    actor_login TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    at {{ts}} NOT NULL
)
-- ;
CREATE INDEX gov_negative_steps_entry ON gov_negative_steps (entry_id, id)
-- ;
CREATE TABLE gov_consents (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    provider_name TEXT NOT NULL,
    provider_region TEXT NOT NULL DEFAULT '',
    document_ref TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_on {{ts}} NOT NULL,
    expires_on {{ts}},
    withdrawn_at {{ts}},
    withdraw_reason TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at {{ts}} NOT NULL
)
-- ;
CREATE INDEX gov_consents_resource ON gov_consents (resource_id)
