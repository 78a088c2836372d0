-- SQLite's 0008 adds per-block row counts of users for deep pages. PostgreSQL keeps walking
-- its index: a counter row updated by every insert would serialise concurrent inserts.
-- (Kept so both engines share migration numbers.)
SELECT 1;
