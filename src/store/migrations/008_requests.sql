-- What a plan lets its clients' users do themselves (issue 11): whether a
-- request for a new instance waits for the provider, whether they may
-- restore their own backups, and which blueprints they may ask for.
ALTER TABLE plans ADD COLUMN approval TEXT NOT NULL DEFAULT 'manual'
    CHECK (approval IN ('auto', 'manual'));
ALTER TABLE plans ADD COLUMN portal_restore INTEGER NOT NULL DEFAULT 0
    CHECK (portal_restore IN (0, 1));
-- A JSON array of blueprint names; NULL = every installed blueprint.
ALTER TABLE plans ADD COLUMN blueprints TEXT;

-- A client owner's request for a new instance. The stored status is the
-- decision (requested, approved, rejected, failed); "provisioning" and
-- "running" are read from the created instance's observed phase.
-- requested_by is a client user's id without a foreign key: the request
-- outlives the user (and names them by label), and client_users lives in
-- another migration. The request goes with its client.
CREATE TABLE instance_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    instance_name TEXT NOT NULL,
    blueprint TEXT NOT NULL,
    requested_by INTEGER NOT NULL,
    requested_by_label TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    instance_id INTEGER REFERENCES instances(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT
);
CREATE INDEX instance_requests_by_client ON instance_requests (client_id, status);
CREATE INDEX instance_requests_pending ON instance_requests (created_at) WHERE status = 'requested';
