-- The registration platform (登记平台, R13.1): public data resources and
-- operators' products and services, each with an identifier that is never
-- changed or reused (cancelled items keep their row), the workflow of the
-- version under review and every version ever submitted.
CREATE TABLE registry_items (
    id {{pk}},
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    serial_scope TEXT NOT NULL,
    serial INTEGER NOT NULL,
    holder_org_id BIGINT NOT NULL REFERENCES organizations (id),
    region_code TEXT NOT NULL,
    -- Workflow of the latest version: submitted, accepted, announced,
    -- registered, rejected, cancelled.
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- The version the public sees (0 until first registered).
    live_version INTEGER NOT NULL DEFAULT 0,
    -- Facets of the live version (or of the first submission before it).
    name TEXT NOT NULL,
    domain TEXT NOT NULL DEFAULT '',
    grade TEXT NOT NULL DEFAULT '',
    frequency TEXT NOT NULL DEFAULT '',
    access TEXT NOT NULL DEFAULT '',
    product_type TEXT NOT NULL DEFAULT '',
    submitted_at {{ts}} NOT NULL,
    accept_due {{ts}} NOT NULL,
    accepted_at {{ts}},
    review_due {{ts}},
    announced_at {{ts}},
    announce_until {{ts}},
    registered_at {{ts}},
    closed_at {{ts}},
    reason TEXT NOT NULL DEFAULT '',
    updated_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX registry_items_code ON registry_items (code)
-- ;
CREATE UNIQUE INDEX registry_items_serial ON registry_items (serial_scope, serial)
-- ;
CREATE INDEX registry_items_holder ON registry_items (holder_org_id)
-- ;
CREATE INDEX registry_items_status ON registry_items (status, kind)
-- ;
-- Every version as submitted (registration, change) or corrected, with the
-- whole form as JSON; rows are only appended.
CREATE TABLE registry_versions (
    item_id BIGINT NOT NULL REFERENCES registry_items (id),
    version INTEGER NOT NULL,
    change TEXT NOT NULL,
    fields TEXT NOT NULL,
    by_user_id BIGINT NOT NULL,
    at {{ts}} NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_id, version)
)
-- ;
-- Data items (columns) the live version of a resource declares, for the
-- one-source check (一数一源, R6.1) and the catalog.
CREATE TABLE registry_data_items (
    item_id BIGINT NOT NULL REFERENCES registry_items (id),
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    standard TEXT NOT NULL DEFAULT '',
    signature TEXT NOT NULL,
    PRIMARY KEY (item_id, name)
)
-- ;
CREATE INDEX registry_data_items_signature ON registry_data_items (signature)
-- ;
-- Resources a product draws on.
CREATE TABLE registry_product_resources (
    product_id BIGINT NOT NULL REFERENCES registry_items (id),
    resource_id BIGINT NOT NULL REFERENCES registry_items (id),
    PRIMARY KEY (product_id, resource_id)
)
-- ;
-- The same data item registered by two departments (R6.1), flagged to
-- the authority with both sources until resolved.
CREATE TABLE registry_overlaps (
    id {{pk}},
    item_a BIGINT NOT NULL REFERENCES registry_items (id),
    item_b BIGINT NOT NULL REFERENCES registry_items (id),
    data_item TEXT NOT NULL,
    basis TEXT NOT NULL,
    detected_at {{ts}} NOT NULL,
    resolved_at {{ts}},
    resolution TEXT NOT NULL DEFAULT ''
)
-- ;
CREATE UNIQUE INDEX registry_overlaps_pair ON registry_overlaps (item_a, item_b, data_item)
