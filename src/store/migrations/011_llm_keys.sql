-- LLM keys per client (issue 12). A plan says whether its clients get a key
-- and with what budget; a client may override the budget.
ALTER TABLE plans ADD COLUMN llm_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN llm_limit_usd REAL;
ALTER TABLE plans ADD COLUMN llm_limit_reset TEXT
    CHECK (llm_limit_reset IN ('daily', 'weekly', 'monthly'));

CREATE TABLE llm_budget_overrides (
    client_id INTEGER PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    limit_usd REAL,
    limit_reset TEXT CHECK (limit_reset IN ('daily', 'weekly', 'monthly')),
    updated_at TEXT NOT NULL
);

-- One row per key berth created at the provider (a rotation adds a row).
-- The row is written before the provider is asked (status 'creating'), so
-- a crash between the provider's answer and the commit leaves a label to
-- look for, never an unknown key. `secret` is the plaintext key encrypted
-- with the key in [llm] secret_file (nonce || ciphertext); never shown.
CREATE TABLE llm_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('openrouter', 'litellm')),
    label TEXT NOT NULL UNIQUE,
    provider_key_id TEXT,
    key_hint TEXT NOT NULL DEFAULT '',
    secret BLOB,
    status TEXT NOT NULL CHECK (status IN ('creating', 'active', 'disabled', 'deleted')),
    -- Rotation asked for: a new key replaces this one, then this one goes.
    rotating INTEGER NOT NULL DEFAULT 0,
    -- To be deleted at the provider (replaced, or its client is being deleted).
    retired INTEGER NOT NULL DEFAULT 0,
    -- The budget as last applied at the provider.
    limit_usd REAL,
    limit_reset TEXT CHECK (limit_reset IN ('daily', 'weekly', 'monthly')),
    usage_usd REAL,
    usage_monthly_usd REAL,
    limit_remaining_usd REAL,
    polled_at TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_retry_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX llm_keys_client ON llm_keys (client_id);

-- Spend as polled. No foreign keys: the series outlives its key and client,
-- like metric_subjects, for the billing export of the month they left.
CREATE TABLE llm_spend (
    key_id INTEGER NOT NULL,
    client_slug TEXT NOT NULL,
    at TEXT NOT NULL,
    usage_usd REAL NOT NULL,
    usage_monthly_usd REAL,
    limit_usd REAL,
    PRIMARY KEY (key_id, at)
);
CREATE INDEX llm_spend_client ON llm_spend (client_slug, at);

-- The provider account as last polled (OpenRouter credits); one row.
CREATE TABLE llm_provider_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    total_credits REAL,
    total_usage REAL,
    polled_at TEXT,
    last_error TEXT NOT NULL DEFAULT ''
);
