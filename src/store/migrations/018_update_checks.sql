-- Issue 13, update checks: the last check of each image reference a
-- blueprint's instances use (or a tag an admin named), and what the
-- registry said: the image ID the tag resolves to now and its repo digest,
-- or why the check failed. One row per (blueprint, image), replaced by the
-- next check; a failed check keeps the last ID it knew.
CREATE TABLE update_checks (
    blueprint  TEXT NOT NULL,
    image      TEXT NOT NULL,
    -- 1: a tag named for this check, not one an instance runs on.
    named      INTEGER NOT NULL DEFAULT 0,
    image_id   TEXT,
    digest     TEXT,
    error      TEXT,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (blueprint, image)
);

-- The registry digest of an image ID, learnt when it was pulled or seen:
-- what the instance pages show beside the ID.
CREATE TABLE image_digests (
    image_id    TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
