-- Exact row counts of users per block of 1,024 seq values, as SQLite's migration 0008 keeps
-- them: a page at startIndex S finds its first row by summing at most N / 1,024 counts and
-- walking at most 1,024 index entries, instead of walking S entries; the total of an
-- unfiltered list is their sum. Each block's count is split in up to 16 shard rows, one per
-- backend (pid % 16), so concurrent inserts through different connections do not queue on
-- one row until commit; the view adds the shards up. users.seq never changes, so insert and
-- delete are the only events; a delete subtracts in its own shard (a shard may go
-- negative, the sum is exact).
CREATE TABLE user_seq_bucket_shards (
    bucket BIGINT  NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT  NOT NULL,
    PRIMARY KEY (bucket, shard)
);

CREATE VIEW user_seq_buckets AS
    SELECT bucket, CAST(SUM(n) AS BIGINT) AS n FROM user_seq_bucket_shards GROUP BY bucket;

CREATE FUNCTION users_bucket_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_seq_bucket_shards (bucket, shard, n)
        VALUES (NEW.seq >> 10, pg_backend_pid() % 16, 1)
        ON CONFLICT (bucket, shard) DO UPDATE SET n = user_seq_bucket_shards.n + 1;
    ELSE
        INSERT INTO user_seq_bucket_shards (bucket, shard, n)
        VALUES (OLD.seq >> 10, pg_backend_pid() % 16, -1)
        ON CONFLICT (bucket, shard) DO UPDATE SET n = user_seq_bucket_shards.n - 1;
    END IF;
    RETURN NULL;
END $$;

-- The trigger first: creating it locks users against writes until this migration commits,
-- so the counts below include every row written before, and the trigger every row after
-- (nodes of the previous version may be writing during a rolling upgrade).
CREATE TRIGGER users_bucket_count AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_bucket_count();

INSERT INTO user_seq_bucket_shards (bucket, shard, n)
    SELECT seq >> 10, 0, COUNT(*) FROM users GROUP BY seq >> 10;
