-- Usage history. Times are unix seconds (UTC); a row covers the `secs`
-- before its `ts` (raw) or the bucket starting at `ts` (rollups). No foreign
-- keys: billing must still see an instance after it was deleted.
CREATE TABLE metric_subjects (
    instance_id INTEGER PRIMARY KEY,
    client_slug TEXT NOT NULL,
    instance_name TEXT NOT NULL
);
CREATE TABLE samples_raw (
    instance_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    secs REAL NOT NULL,
    up INTEGER NOT NULL,
    cpu REAL NOT NULL,
    mem INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    disk INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    blk_read INTEGER NOT NULL,
    blk_write INTEGER NOT NULL,
    pids INTEGER NOT NULL,
    oom_kills INTEGER NOT NULL,
    mem_hits INTEGER NOT NULL,
    PRIMARY KEY (instance_id, ts)
) WITHOUT ROWID;
CREATE TABLE rollup_5m (
    instance_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    n INTEGER NOT NULL,
    secs REAL NOT NULL,
    up_secs REAL NOT NULL,
    cpu_secs REAL NOT NULL,
    cpu_max REAL NOT NULL,
    mem_byte_secs REAL NOT NULL,
    mem_max INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    disk_byte_secs REAL NOT NULL,
    disk_max INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    blk_read INTEGER NOT NULL,
    blk_write INTEGER NOT NULL,
    pids_max INTEGER NOT NULL,
    oom_kills INTEGER NOT NULL,
    mem_hits INTEGER NOT NULL,
    PRIMARY KEY (instance_id, ts)
) WITHOUT ROWID;
CREATE TABLE rollup_1h (
    instance_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    n INTEGER NOT NULL,
    secs REAL NOT NULL,
    up_secs REAL NOT NULL,
    cpu_secs REAL NOT NULL,
    cpu_max REAL NOT NULL,
    mem_byte_secs REAL NOT NULL,
    mem_max INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    disk_byte_secs REAL NOT NULL,
    disk_max INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    blk_read INTEGER NOT NULL,
    blk_write INTEGER NOT NULL,
    pids_max INTEGER NOT NULL,
    oom_kills INTEGER NOT NULL,
    mem_hits INTEGER NOT NULL,
    PRIMARY KEY (instance_id, ts)
) WITHOUT ROWID;
-- Last data-directory walk per instance (bytes, files).
CREATE TABLE disk_usage (
    instance_id INTEGER PRIMARY KEY,
    bytes INTEGER NOT NULL,
    files INTEGER NOT NULL,
    measured_at INTEGER NOT NULL
);
CREATE TABLE host_samples (
    ts INTEGER PRIMARY KEY,
    cpu_used REAL NOT NULL,
    cpus INTEGER NOT NULL,
    mem_used INTEGER NOT NULL,
    mem_total INTEGER NOT NULL,
    disk_used INTEGER NOT NULL,
    disk_total INTEGER NOT NULL,
    load1 REAL NOT NULL
);
-- Rollup watermarks: every finer row before the mark is in the coarser tier.
CREATE TABLE metrics_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- A client is "over quota" while any row names one of its instances.
CREATE TABLE quota_warnings (
    instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    used INTEGER NOT NULL,
    quota INTEGER NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (instance_id, kind)
);
