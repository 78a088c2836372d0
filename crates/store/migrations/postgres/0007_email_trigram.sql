-- Substring filters on email values (emails.value co/ew, compiled to LIKE) look up a
-- pg_trgm GIN index instead of scanning every address; prefixes (sw) the B-tree below.
--
-- An extension is database-wide and its operator classes live in the one schema it was
-- installed in, which need not be ours (several Roster schemas may share a database), so
-- the index names that schema. Creating the extension may be refused to a deployment's
-- database user: then the index is skipped and LIKE still answers, unindexed, until an
-- administrator runs CREATE EXTENSION pg_trgm and a later migration or a manual
--   CREATE INDEX user_emails_value_trgm ON user_emails USING gin (value_key <schema>.gin_trgm_ops)
-- adds it.
DO $$
DECLARE
    trgm_schema name;
BEGIN
    SELECT n.nspname INTO trgm_schema
      FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
     WHERE x.extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        BEGIN
            -- A trusted extension since PostgreSQL 13: a database owner or a user with
            -- CREATE on the database may install it.
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'pg_trgm not installed (%): email substring filters will scan', SQLERRM;
            WHEN undefined_file THEN
                -- The server has no contrib package.
                RAISE NOTICE 'pg_trgm not available (%): email substring filters will scan', SQLERRM;
            WHEN unique_violation OR duplicate_object THEN
                -- Created meanwhile by a session outside sqlx's migration lock (which
                -- serialises Roster's own migrations per database).
                NULL;
        END;
        SELECT n.nspname INTO trgm_schema
          FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
         WHERE x.extname = 'pg_trgm';
    END IF;
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS user_emails_value_trgm ON user_emails USING gin (value_key %I.gin_trgm_ops)',
            trgm_schema);
    END IF;
END
$$;

-- Prefixes (emails.value sw): LIKE 'x%' is a range of a B-tree only under the C collation
-- or with text_pattern_ops. Without this index the planner takes the GIN one, which is
-- slower than a scan when every address shares the prefix's trigrams. It serves equality
-- too; range comparisons keep user_emails_value.
CREATE INDEX user_emails_value_prefix ON user_emails (value_key text_pattern_ops);
