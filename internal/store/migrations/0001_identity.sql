-- Organisations, users, roles, sessions and API tokens (R3, R4).
CREATE TABLE organizations (
    id {{pk}},
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    region_code TEXT NOT NULL,
    -- Unified social credit code (GB 32100); NULL where an organisation has none on file.
    credit_code TEXT,
    -- The authority a city or county authority files with (R9.1, R11.1).
    files_with_id BIGINT REFERENCES organizations (id),
    created_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX organizations_name ON organizations (name)
-- ;
CREATE UNIQUE INDEX organizations_credit_code ON organizations (credit_code) WHERE credit_code IS NOT NULL
-- ;
CREATE INDEX organizations_region ON organizations (region_code)
-- ;
CREATE TABLE users (
    id {{pk}},
    login TEXT NOT NULL,
    display_name TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until {{ts}},
    password_changed_at {{ts}} NOT NULL,
    created_at {{ts}} NOT NULL
)
-- ;
CREATE UNIQUE INDEX users_login ON users (login)
-- ;
CREATE INDEX users_org ON users (org_id)
-- ;
CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
)
-- ;
CREATE TABLE sessions (
    -- SHA-256 of the cookie value; the value itself is never stored.
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    last_seen_at {{ts}} NOT NULL,
    expires_at {{ts}} NOT NULL,
    revoked_at {{ts}},
    remote_addr TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
)
-- ;
CREATE INDEX sessions_user ON sessions (user_id)
-- ;
CREATE TABLE api_tokens (
    id {{pk}},
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    -- First characters of the token, shown in lists so a person can tell tokens apart.
    prefix TEXT NOT NULL,
    -- SHA-256 of the whole token; the token is shown once and never stored.
    hash TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    expires_at {{ts}} NOT NULL,
    revoked_at {{ts}},
    last_used_at {{ts}}
)
-- ;
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash)
-- ;
CREATE INDEX api_tokens_user ON api_tokens (user_id)
