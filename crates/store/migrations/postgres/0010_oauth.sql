-- OAuth: one personal client per user, the JWT signing keys every node shares, refresh
-- tokens (rotated on use, one family per password grant), and facts about the database
-- itself (the check value that tells whether the server key is the one that sealed).
CREATE TABLE server_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE oauth_clients (
    user_seq      BIGINT NOT NULL PRIMARY KEY REFERENCES users (seq) ON DELETE CASCADE,
    client_id     TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the secret, for verification; the secret itself sealed with the server
    -- key (bound to the client id), to be shown again.
    secret_hash   TEXT    NOT NULL,
    secret_sealed TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    rotated_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT    PRIMARY KEY,
    public_key     TEXT    NOT NULL,
    private_sealed TEXT    NOT NULL,
    created_at     BIGINT NOT NULL,
    -- When a newer key took over signing; it keeps verifying until its tokens expired.
    retired_at     BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    family     TEXT    NOT NULL,
    user_seq   BIGINT NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_seq);
