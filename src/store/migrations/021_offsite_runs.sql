-- Issue 14, offsite retention and verification: every forget, prune,
-- check and test-restore on a target is a row, queued → running → ok |
-- failed, so a scheduled check that failed at night is on record and the
-- dashboard and /metrics show when each last succeeded. A run whose berth
-- died is failed at the next start (restic died with it).
CREATE TABLE offsite_runs (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('forget', 'prune', 'check', 'test_restore')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    -- forget: what it would do, nothing forgotten.
    dry_run INTEGER NOT NULL DEFAULT 0,
    -- check: how much data to read when not the target's check_read_data.
    read_data TEXT,
    -- 'schedule', 'copies' (after a round of copies), 'deletion:<id>' or the actor.
    requested_by TEXT NOT NULL DEFAULT '',
    -- test-restore: the instance sampled (NULL once it is deleted) and its snapshot.
    instance_id INTEGER REFERENCES instances(id) ON DELETE SET NULL,
    client_slug TEXT NOT NULL DEFAULT '',
    instance_name TEXT NOT NULL DEFAULT '',
    snapshot_id TEXT,
    -- forget: snapshots forgotten; test-restore: 1.
    snapshots INTEGER,
    -- test-restore: bytes of the instance's files verified.
    bytes INTEGER,
    message TEXT NOT NULL DEFAULT '',
    runner_pid INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX offsite_runs_target ON offsite_runs(target, kind, status, id);
