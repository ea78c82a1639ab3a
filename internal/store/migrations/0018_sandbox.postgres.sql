-- The in-domain sandbox (internal/sandbox, R12.1, R15.6, R16.2, R17.1):
-- operators' workspaces bound to one agreement, the agency's per-resource
-- policies (aliases, analysis rules, column roles), every submitted query
-- with its decision and, for released or held results, the checked result
-- and the signed manifest, the ε budget of each agreement and its ledger.
CREATE TABLE sandbox_workspaces (
    id {{pk}},
    name TEXT NOT NULL,
    operator_org_id BIGINT NOT NULL,
    agreement_id BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    -- active, or halted on a fusion risk until the agency resumes it (R15.6)
    state TEXT NOT NULL,
    halted_reason TEXT NOT NULL DEFAULT '',
    halted_at {{ts}},
    created_by BIGINT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (operator_org_id, name)
);

CREATE TABLE sandbox_policies (
    id {{pk}},
    resource_id BIGINT NOT NULL,
    -- JSON of sandbox.ResourcePolicy; the newest row of a resource wins.
    policy TEXT NOT NULL,
    set_by BIGINT NOT NULL,
    set_at {{ts}} NOT NULL
);
CREATE INDEX sandbox_policies_resource ON sandbox_policies (resource_id, id);

CREATE TABLE sandbox_jobs (
    id {{pk}},
    workspace_id BIGINT NOT NULL REFERENCES sandbox_workspaces (id),
    agreement_id BIGINT NOT NULL,
    operator_org_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    target TEXT NOT NULL,
    sql_text TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    -- released, held, refused, rejected
    status TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    rule TEXT NOT NULL DEFAULT '',
    resources TEXT NOT NULL DEFAULT '',
    epsilon_micros BIGINT NOT NULL DEFAULT 0,
    rows_scanned BIGINT NOT NULL DEFAULT 0,
    result_hash TEXT NOT NULL DEFAULT '',
    -- JSON {"columns","rows"} of a checked result (held or released)
    result TEXT NOT NULL DEFAULT '',
    manifest TEXT NOT NULL DEFAULT '',
    signature TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL DEFAULT '',
    reviewer_id BIGINT NOT NULL DEFAULT 0,
    review_reason TEXT NOT NULL DEFAULT '',
    reviewed_at {{ts}},
    created_at {{ts}} NOT NULL
);
CREATE INDEX sandbox_jobs_workspace ON sandbox_jobs (workspace_id, id);
CREATE INDEX sandbox_jobs_status ON sandbox_jobs (status, agreement_id);

-- One row per agreement: the budget and what is spent, changed only by a
-- conditional UPDATE so that two queries can never both fit the last ε.
CREATE TABLE sandbox_budgets (
    agreement_id BIGINT PRIMARY KEY,
    total_micros BIGINT NOT NULL,
    spent_micros BIGINT NOT NULL
);

CREATE TABLE sandbox_ledger (
    id {{pk}},
    agreement_id BIGINT NOT NULL,
    job_id BIGINT NOT NULL DEFAULT 0,
    -- positive: spent; negative: given back when the query never ran
    epsilon_micros BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at {{ts}} NOT NULL
);
CREATE INDEX sandbox_ledger_agreement ON sandbox_ledger (agreement_id, id);
