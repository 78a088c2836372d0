-- Tokens are named in listings by a public id unrelated to their secret (label used to keep
-- the secret's first 12 characters in clear), and remember when they were last used.
UPDATE api_tokens SET label = 'tok_old' || seq;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
CREATE INDEX api_tokens_user_name ON api_tokens (user_seq, name);
