-- What a change changed: the names of the attributes (comma-separated, never a value, a
-- secret or a hash); NULL for rows that do not say (creations, deletions, older rows).
ALTER TABLE audit_log ADD COLUMN changes TEXT;
