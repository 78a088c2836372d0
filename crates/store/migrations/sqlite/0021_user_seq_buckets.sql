-- Nothing to do on SQLite: its per-block user counts exist since 0008. PostgreSQL's 0021 adds
-- them there; both engines stay at the same schema version, which export and import compare.
SELECT 1;
