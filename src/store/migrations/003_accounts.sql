-- Admin accounts for the web UI. Every account is an administrator.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
-- Failed logins, kept in the database so a restart does not reset the
-- throttle. Rows older than the throttle window are pruned.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    ip TEXT NOT NULL,
    account TEXT NOT NULL
);
CREATE INDEX login_failures_ip ON login_failures(ip, at);
CREATE INDEX login_failures_account ON login_failures(account, at);
CREATE INDEX audit_actor ON audit_log(actor, at);
