-- Nothing to do on PostgreSQL (its trigram indexes are GIN indexes, maintained per row):
-- SQLite's 0022 defers its FTS5 updates to the commit. Both engines keep one schema version.
SELECT 1;
