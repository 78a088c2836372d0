-- A counter of the changes that can alter what a bearer token lets its caller do: an API
-- token revoked, re-dated or deleted, an OAuth client deleted or moved, a user deactivated,
-- renamed or deleted or their access tokens ended (tokens_after), a permission given or
-- taken. A node caches the principal of a token together with the generation it was read
-- at, and uses the cache only after reading the generation again, after the request arrived
-- (crates/server/src/http/principals.rs): a change committed anywhere is seen by the next
-- request on every node. The generation is the sum of 16 shard rows (one per backend,
-- pid % 16) so that unrelated writers do not queue on one row until they commit; every bump
-- adds 1, so an equal sum means nothing changed. It starts at a random value so that a cache
-- filled from another database (one dropped and re-created under a running node) cannot
-- match by chance.
CREATE TABLE auth_generation (
    shard INTEGER PRIMARY KEY,
    n     BIGINT  NOT NULL
);
INSERT INTO auth_generation (shard, n) VALUES (0, CAST(floor(random() * 281474976710656) AS BIGINT));

CREATE FUNCTION bump_auth_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_generation (shard, n) VALUES (pg_backend_pid() % 16, 1)
    ON CONFLICT (shard) DO UPDATE SET n = auth_generation.n + 1;
    RETURN NULL;
END $$;

-- Recording a token's last use (last_used_at) is not among the columns: it changes nothing.
CREATE TRIGGER api_tokens_auth_generation
    AFTER UPDATE OF token_hash, user_seq, revoked_at, expires_at OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_generation();

-- Rotating a client's secret (secret_hash, rotated_at) leaves its access tokens valid.
CREATE TRIGGER oauth_clients_auth_generation
    AFTER UPDATE OF client_id, user_seq OR DELETE ON oauth_clients
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_generation();

-- Row-level with a condition: every rewrite of a user sets these columns, few change them.
CREATE TRIGGER users_auth_generation AFTER UPDATE OF active, user_name, tokens_after ON users
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active
        OR OLD.user_name IS DISTINCT FROM NEW.user_name
        OR OLD.tokens_after IS DISTINCT FROM NEW.tokens_after)
    EXECUTE FUNCTION bump_auth_generation();
CREATE TRIGGER users_deleted_auth_generation AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_generation();

-- Row-level: a grant that was there already (ON CONFLICT … DO UPDATE of via_role) and the
-- admin-role sync that finds nothing to do change no permission and bump nothing.
CREATE TRIGGER user_permissions_auth_generation
    AFTER INSERT OR DELETE OR UPDATE OF user_seq, permission ON user_permissions
    FOR EACH ROW EXECUTE FUNCTION bump_auth_generation();
