-- Issue 13, rollouts: an instance runs a pinned image ID (desired state),
-- valid for the image reference it was resolved from (a pin change on the
-- instance or its plan makes it stale without anyone clearing it), and
-- rollouts with one row per instance step, so a restart resumes them.
ALTER TABLE instances ADD COLUMN desired_image_id TEXT;
ALTER TABLE instances ADD COLUMN desired_image_ref TEXT;

CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    blueprint TEXT NOT NULL,
    tag TEXT,
    waves TEXT NOT NULL,
    keep_going INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);

CREATE TABLE rollout_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    -- No foreign key: a deleted instance's history stays readable.
    instance_id INTEGER NOT NULL,
    instance_label TEXT NOT NULL,
    wave INTEGER NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    target_ref TEXT NOT NULL,
    -- The instance's own tag pin before and after (NULL: none), the image
    -- reference it resolved to and the image IDs: what a rollback restores.
    from_pin TEXT,
    from_ref TEXT,
    from_image_id TEXT,
    to_pin TEXT,
    to_image_id TEXT,
    backup_id INTEGER,
    restore_id INTEGER,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX rollout_steps_by_rollout ON rollout_steps (rollout_id, wave, position);
CREATE INDEX rollout_steps_by_instance ON rollout_steps (instance_id, id);
