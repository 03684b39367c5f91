-- The Docker network an instance adopted from the warm pool (a neutral
-- `<prefix>-pool-…` name, since the engine cannot rename a network). NULL:
-- the instance's network is named like its container, as before the pool.
-- Recorded before the instance's first container is created, so a crash
-- after it finds the network taken, and a crash before it finds it free.
ALTER TABLE instances ADD COLUMN network TEXT;
CREATE UNIQUE INDEX instances_network ON instances (network) WHERE network IS NOT NULL;
