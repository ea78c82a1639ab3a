-- Retention of an operator's work log (R16.2): when an agreement ends, the
-- operator's entries are kept at least three years. Rows only accumulate;
-- an organisation's retention is the latest date any row gives it, so a
-- later setting can extend it but never shorten it.
CREATE TABLE audit_retention (
    id {{pk}},
    org_id BIGINT NOT NULL,
    agreement_ref TEXT NOT NULL,
    agreement_ended_on TEXT NOT NULL,
    retain_until TEXT NOT NULL,
    set_at {{ts}} NOT NULL,
    set_by TEXT NOT NULL
)
-- ;
CREATE INDEX audit_retention_org ON audit_retention (org_id, retain_until)
