-- PostgreSQL only (its email trigram index loses GIN's pending list); kept here so both
-- engines share one schema version, which exports record and imports check.
SELECT 1;
