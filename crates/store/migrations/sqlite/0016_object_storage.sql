-- S3-compatible object storages and each user's credential for each (Contabo's
-- object-storage credentials). The secret key is shown again, so it is sealed with the
-- server key (bound to the access key), never stored in clear.
CREATE TABLE object_storages (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE storage_credentials (
    id            INTEGER PRIMARY KEY,
    user_seq      INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    storage_seq   INTEGER NOT NULL REFERENCES object_storages (seq) ON DELETE CASCADE,
    access_key    TEXT    NOT NULL UNIQUE,
    secret_sealed TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    rotated_at    INTEGER NOT NULL,
    UNIQUE (user_seq, storage_seq)
);
