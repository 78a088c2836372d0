-- Narrow indexes that deep pages walk instead of the wide table rows (the offset is
-- skipped over ~250 index pages instead of ~9,000 table pages at startIndex 90,001).
CREATE INDEX users_seq ON users (seq);
CREATE INDEX users_active_seq ON users (active, seq);
