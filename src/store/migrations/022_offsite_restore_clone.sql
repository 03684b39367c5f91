-- Offsite restores as clones (issue 14): how the snapshot is put back, and
-- whose data it holds ("client/instance" from its tags), so the worker can
-- check a clone's snapshot against its source rather than the new instance.
ALTER TABLE offsite_restores ADD COLUMN mode TEXT NOT NULL DEFAULT 'in_place'
    CHECK (mode IN ('in_place', 'clone'));
ALTER TABLE offsite_restores ADD COLUMN source TEXT NOT NULL DEFAULT '';
