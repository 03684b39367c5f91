-- A client's own users, who sign in to the portal. An email belongs to one
-- client only, so signing in needs no client name. The password is NULL
-- until the user sets it from their invitation link.
CREATE TABLE client_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    password_hash TEXT,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
CREATE INDEX client_users_client ON client_users(client_id);
-- One-time links (invitation, password reset). Only the SHA-256 of the
-- token is kept; a used link keeps its row (used_at) so its page can say so.
CREATE TABLE client_user_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES client_users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('invite', 'reset')),
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX client_user_tokens_user ON client_user_tokens(user_id);
