-- Ids are never reused. Without AUTOINCREMENT SQLite hands a deleted row's
-- id (the highest) to the next insert, and usage history is keyed by
-- instance id: a new client's instance inherited the deleted one's samples
-- in the billing export. SQLite cannot add AUTOINCREMENT in place, so both
-- tables are rebuilt (migrations run with foreign keys off, see
-- migrations.rs); rows, ids and references are kept.
CREATE TABLE clients_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at TEXT NOT NULL
);
INSERT INTO clients_new (id, slug, name, email, plan_id, notes, status, created_at)
    SELECT id, slug, name, email, plan_id, notes, status, created_at FROM clients;
DROP TABLE clients;
ALTER TABLE clients_new RENAME TO clients;

CREATE TABLE instances_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    blueprint TEXT NOT NULL,
    image TEXT NOT NULL,
    host_port INTEGER NOT NULL UNIQUE,
    desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped', 'absent')),
    env TEXT NOT NULL DEFAULT '{}',
    secrets TEXT NOT NULL DEFAULT '{}',
    restart_gen INTEGER NOT NULL DEFAULT 0,
    restart_done_gen INTEGER NOT NULL DEFAULT 0,
    phase TEXT NOT NULL DEFAULT 'pending',
    message TEXT NOT NULL DEFAULT '',
    container_id TEXT,
    observed_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (client_id, name)
);
INSERT INTO instances_new (id, client_id, name, blueprint, image, host_port, desired, env, secrets,
        restart_gen, restart_done_gen, phase, message, container_id, observed_at, created_at)
    SELECT id, client_id, name, blueprint, image, host_port, desired, env, secrets,
        restart_gen, restart_done_gen, phase, message, container_id, observed_at, created_at
    FROM instances;
DROP TABLE instances;
ALTER TABLE instances_new RENAME TO instances;

-- Ids already handed out to instances that are gone (their history is still
-- in the usage tables) are never handed out again either.
DELETE FROM sqlite_sequence WHERE name IN ('instances', 'clients');
INSERT INTO sqlite_sequence (name, seq) VALUES
    ('clients', (SELECT COALESCE(MAX(id), 0) FROM clients)),
    ('instances', MAX(
        (SELECT COALESCE(MAX(id), 0) FROM instances),
        (SELECT COALESCE(MAX(instance_id), 0) FROM metric_subjects),
        (SELECT COALESCE(MAX(instance_id), 0) FROM disk_usage),
        (SELECT COALESCE(MAX(instance_id), 0) FROM samples_raw),
        (SELECT COALESCE(MAX(instance_id), 0) FROM rollup_5m),
        (SELECT COALESCE(MAX(instance_id), 0) FROM rollup_1h)));

-- Billing groups by client id, not slug: a deleted client's slug can be
-- taken by a new client, whose export must not include the old usage.
-- Backfill: from the live instance; for deleted instances, from the client
-- with that slug only if it existed before the instance's first sample.
-- What stays NULL belongs to a client that is gone.
ALTER TABLE metric_subjects ADD COLUMN client_id INTEGER;
UPDATE metric_subjects SET client_id =
    (SELECT client_id FROM instances WHERE instances.id = metric_subjects.instance_id);
UPDATE metric_subjects SET client_id = (
    SELECT c.id FROM clients c
    WHERE c.slug = metric_subjects.client_slug
      AND c.created_at <= strftime('%Y-%m-%dT%H:%M:%SZ', (
          SELECT MIN(ts) FROM (
              SELECT ts FROM samples_raw WHERE instance_id = metric_subjects.instance_id
              UNION ALL SELECT ts FROM rollup_5m WHERE instance_id = metric_subjects.instance_id
              UNION ALL SELECT ts FROM rollup_1h WHERE instance_id = metric_subjects.instance_id)),
          'unixepoch'))
WHERE client_id IS NULL;
