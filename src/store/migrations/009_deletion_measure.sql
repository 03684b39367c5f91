-- What a deletion job found on disk (data files and bytes per instance,
-- backup archives and manifests), recorded before anything is removed: a
-- job retried after a crash finds the files gone and must still report
-- what was there.
ALTER TABLE deletions ADD COLUMN measured TEXT;
