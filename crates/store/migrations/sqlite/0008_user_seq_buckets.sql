-- Exact row counts of users per block of 1,024 seq values, kept by triggers in the writing
-- transaction. A page at startIndex S finds its first row by summing at most N / 1,024
-- counts and walking at most 1,024 index entries, instead of walking S entries; the total
-- of an unfiltered list is their sum. users.seq never changes, so insert and delete are
-- the only events.
CREATE TABLE user_seq_buckets (
    bucket INTEGER PRIMARY KEY,
    n      INTEGER NOT NULL
);
INSERT INTO user_seq_buckets (bucket, n) SELECT seq >> 10, COUNT(*) FROM users GROUP BY seq >> 10;

CREATE TRIGGER users_bucket_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_seq_buckets (bucket, n) VALUES (NEW.seq >> 10, 1)
    ON CONFLICT (bucket) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER users_bucket_delete AFTER DELETE ON users BEGIN
    UPDATE user_seq_buckets SET n = n - 1 WHERE bucket = OLD.seq >> 10;
END;
