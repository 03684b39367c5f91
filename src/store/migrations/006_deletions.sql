-- A confirmed delete is a job (one row) that a worker finishes once the
-- containers are gone, so no request waits for Docker and a restart picks
-- up where the kill left it. No foreign keys: the client and instance rows
-- go when the job is done, the job row stays as the record of what went.
CREATE TABLE deletions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL,
    client_slug TEXT NOT NULL,
    client_name TEXT NOT NULL,
    whole_client INTEGER NOT NULL,
    instance_ids TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    report TEXT,
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX deletions_unfinished ON deletions (status) WHERE status IN ('pending', 'running');
