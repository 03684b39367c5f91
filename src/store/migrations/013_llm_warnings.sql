-- Spend warnings announced (issue 12): one row per client, budget period
-- and threshold, so 80 % and 100 % are each sent (webhook, audit) once per
-- period however often the meter sees the key past them. The limit is part
-- of the key: a budget changed mid-period is announced afresh.
CREATE TABLE llm_warnings (
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    -- "month:2026-12", "week:2026-11-30", "day:2026-12-02" or "key:<id>".
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL CHECK (threshold IN (80, 100)),
    key_id INTEGER NOT NULL,
    spent_usd REAL NOT NULL,
    limit_usd REAL NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (client_id, period, threshold, limit_usd)
);
