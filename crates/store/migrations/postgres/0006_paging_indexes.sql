-- Deep pages of active users walk this index (the primary key already serves seq).
CREATE INDEX users_active_seq ON users (active, seq);
