-- Issue 13, versions: a tag pinned on a plan or an instance (the instance's
-- wins, then the plan's, then the tag in the blueprint's image), and the
-- image ID the instance's container was created from, as last observed.
ALTER TABLE instances ADD COLUMN image_tag TEXT;
ALTER TABLE instances ADD COLUMN image_id TEXT;
ALTER TABLE plans ADD COLUMN image_tag TEXT;
