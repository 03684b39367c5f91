CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    cpus REAL NOT NULL CHECK (cpus > 0),
    memory INTEGER NOT NULL CHECK (memory > 0),
    memory_reservation INTEGER,
    storage INTEGER,
    max_instances INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE clients (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at TEXT NOT NULL
);
CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
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
CREATE TABLE domains (
    hostname TEXT PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE
);
CREATE INDEX domains_instance ON domains(instance_id);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client_slug TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    ip TEXT
);
CREATE INDEX audit_at ON audit_log(at);
CREATE INDEX audit_client ON audit_log(client_slug);
