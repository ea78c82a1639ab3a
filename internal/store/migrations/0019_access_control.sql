-- Access control (issue 15). Sign-in throttling (internal/identity): failed attempts counted
-- per login and per address, each with the earliest time the next attempt
-- is heard. Nothing here locks an account: a wait passes on its own and
-- never touches sessions or tokens. Shared by every server on the store.
CREATE TABLE login_throttle (
    -- account (the login as typed, known or not) or address (IPv4, IPv6 /64)
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at {{ts}} NOT NULL,
    next_at {{ts}} NOT NULL,
    PRIMARY KEY (scope, subject)
);

-- Keys the web servers share (internal/app): the key that signs the login
-- form's CSRF token, so that a form served by one server is accepted by
-- another. Created once, at the first start, never changed.
CREATE TABLE web_secrets (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at {{ts}} NOT NULL
);

-- Rate limits every server shares, each count one upsert (governance: the
-- public's cases per address and per contact in an hour): a window starts
-- with its first counted event, and a refused event is rolled back with
-- the transaction that counted it.
CREATE TABLE rate_counters (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start {{ts}} NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (scope, subject)
);
