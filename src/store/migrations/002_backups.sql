-- Backups are jobs and their results in one row: queued → running → ok|failed.
-- client_slug/instance_name are copied so imported manifests and history stay
-- readable; the row goes with its instance (its files are removed with it).
CREATE TABLE backups (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER REFERENCES instances(id) ON DELETE CASCADE,
    client_slug TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    trigger TEXT NOT NULL,
    path TEXT UNIQUE,
    consistency TEXT NOT NULL DEFAULT '',
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER,
    source_bytes INTEGER,
    size INTEGER,
    files INTEGER,
    sha256 TEXT,
    level INTEGER,
    duration_ms INTEGER,
    freeze_ms INTEGER,
    message TEXT NOT NULL DEFAULT '',
    runner_pid INTEGER,
    heartbeat_at TEXT,
    verify_state TEXT CHECK (verify_state IN ('queued', 'running', 'ok', 'failed')),
    verified_at TEXT,
    verify_message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX backups_instance ON backups(instance_id, id);
CREATE INDEX backups_status ON backups(status);

CREATE TABLE restores (
    id INTEGER PRIMARY KEY,
    backup_id INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    mode TEXT NOT NULL CHECK (mode IN ('in_place', 'clone')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    message TEXT NOT NULL DEFAULT '',
    runner_pid INTEGER,
    created_at TEXT NOT NULL,
    finished_at TEXT
);

-- A plan's override of the global schedule and retention; NULL = global value.
CREATE TABLE backup_policies (
    plan_id INTEGER PRIMARY KEY REFERENCES plans(id) ON DELETE CASCADE,
    schedule TEXT,
    keep_last INTEGER,
    keep_daily INTEGER,
    keep_weekly INTEGER,
    keep_monthly INTEGER
);

-- While a backup or restore has an instance's container stopped, the
-- reconciler must not start it again. A hold whose process is gone is void.
CREATE TABLE instance_holds (
    instance_id INTEGER PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since TEXT NOT NULL
);
