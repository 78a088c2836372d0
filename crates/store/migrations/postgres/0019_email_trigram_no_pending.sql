-- The email trigram index (0007) without GIN's pending list, like the name indexes of 0017:
-- with one, the planner priced the index high after a bulk load and scanned user_emails until
-- a vacuum merged the list (emails.value co: 605-679 req/s at 10k users). The list it holds
-- now is merged first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'user_emails_value_trgm'
                 AND relnamespace = current_schema()::regnamespace) THEN
        PERFORM gin_clean_pending_list('user_emails_value_trgm'::regclass);
        ALTER INDEX user_emails_value_trgm SET (fastupdate = off);
    END IF;
END
$$;
