-- Issue 14, offsite: each copy of an instance's verified backup (or of
-- berth's own state) to a restic repository is a job row, queued → running
-- → ok | failed. A copy whose process died is failed at the next start:
-- restic writes its snapshot only at the very end, so a cut-off copy left
-- at most unreferenced packs in the repository (the next prune drops them),
-- never a snapshot; the row is the truth about what reached the target.
CREATE TABLE offsite_copies (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('instance', 'state')),
    backup_id INTEGER REFERENCES backups(id) ON DELETE SET NULL,
    instance_id INTEGER REFERENCES instances(id) ON DELETE SET NULL,
    client_slug TEXT NOT NULL DEFAULT '',
    instance_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    snapshot_id TEXT,
    bytes_processed INTEGER NOT NULL DEFAULT 0,
    bytes_added INTEGER,
    message TEXT NOT NULL DEFAULT '',
    runner_pid INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX offsite_copies_target ON offsite_copies(target, status, id);

-- A restore from an offsite snapshot: the worker downloads the snapshot
-- into a local archive (a backup row, trigger 'offsite') and queues an
-- ordinary restore of it, so the swap, rollback and crash recovery are the
-- local restore's own.
CREATE TABLE offsite_restores (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    backup_id INTEGER REFERENCES backups(id) ON DELETE SET NULL,
    restore_id INTEGER REFERENCES restores(id) ON DELETE SET NULL,
    message TEXT NOT NULL DEFAULT '',
    runner_pid INTEGER,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
