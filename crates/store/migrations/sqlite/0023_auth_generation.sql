-- A counter of the changes that can alter what a bearer token lets its caller do (see the
-- PostgreSQL migration of the same number for why). One writer at a time here, so one row;
-- the generation is still read as the sum of the table so both engines share the query.
-- Every bump adds 1; it starts at a random value so that a cache filled from another
-- database file cannot match by chance.
CREATE TABLE auth_generation (
    shard INTEGER PRIMARY KEY,
    n     INTEGER NOT NULL
);
INSERT INTO auth_generation (shard, n) VALUES (0, abs(random() % 281474976710656));

-- Recording a token's last use (last_used_at) is not among the columns: it changes nothing.
CREATE TRIGGER api_tokens_auth_generation
    AFTER UPDATE OF token_hash, user_seq, revoked_at, expires_at ON api_tokens
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
CREATE TRIGGER api_tokens_deleted_auth_generation AFTER DELETE ON api_tokens
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;

-- Rotating a client's secret (secret_hash, rotated_at) leaves its access tokens valid.
CREATE TRIGGER oauth_clients_auth_generation AFTER UPDATE OF client_id, user_seq ON oauth_clients
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
CREATE TRIGGER oauth_clients_deleted_auth_generation AFTER DELETE ON oauth_clients
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;

-- Every rewrite of a user sets these columns, few change them.
CREATE TRIGGER users_auth_generation AFTER UPDATE OF active, user_name, tokens_after ON users
    WHEN OLD.active IS NOT NEW.active OR OLD.user_name IS NOT NEW.user_name
        OR OLD.tokens_after IS NOT NEW.tokens_after
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
CREATE TRIGGER users_deleted_auth_generation AFTER DELETE ON users
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;

CREATE TRIGGER user_permissions_auth_generation AFTER INSERT ON user_permissions
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
CREATE TRIGGER user_permissions_deleted_auth_generation AFTER DELETE ON user_permissions
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
CREATE TRIGGER user_permissions_changed_auth_generation
    AFTER UPDATE OF user_seq, permission ON user_permissions
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE shard = 0;
END;
