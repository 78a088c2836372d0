-- Sign-in sessions (CVAT's `sessionid` + `csrftoken` cookies and its login key), stored so
-- every node sees them. Only SHA-256 hashes of the secrets are kept. `password_stamp` is the
-- user's password_changed_at (0 for never) when the password was checked: a session whose
-- stamp no longer matches ended with the password change.
CREATE TABLE sessions (
    seq            INTEGER PRIMARY KEY,
    id_hash        TEXT    NOT NULL UNIQUE,
    key_hash       TEXT    NOT NULL UNIQUE,
    csrf_hash      TEXT    NOT NULL,
    user_seq       INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    password_stamp INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_seq);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Organizations (CVAT): a group with a unique slug. NULLs are distinct in a UNIQUE index.
ALTER TABLE groups ADD COLUMN slug TEXT;
CREATE UNIQUE INDEX groups_slug ON groups (slug);

-- Substring filters on userName, name.givenName and name.familyName (SCIM co/ew, CVAT's
-- search) look up trigrams instead of scanning users. The values are stored as the filter
-- compares them (user_name_key, lower() of the names), so GLOB on them is the LIKE it
-- replaces; the triggers keep the table in step inside the writer's transaction.
CREATE VIRTUAL TABLE users_names_fts USING fts5 (
    user_name_key,
    given_key,
    family_key,
    tokenize = 'trigram case_sensitive 1'
);
INSERT INTO users_names_fts (rowid, user_name_key, given_key, family_key)
    SELECT seq, user_name_key, lower(given_name), lower(family_name) FROM users;
CREATE TRIGGER users_names_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_names_fts (rowid, user_name_key, given_key, family_key)
        VALUES (new.seq, new.user_name_key, lower(new.given_name), lower(new.family_name));
END;
CREATE TRIGGER users_names_fts_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_names_fts WHERE rowid = old.seq;
END;
-- Every user update rewrites these columns; only a real change touches the index (an FTS5
-- rewrite per PATCH cost a third of PATCH throughput).
CREATE TRIGGER users_names_fts_update AFTER UPDATE OF user_name_key, given_name, family_name ON users
WHEN old.user_name_key IS NOT new.user_name_key OR old.given_name IS NOT new.given_name
    OR old.family_name IS NOT new.family_name
BEGIN
    UPDATE users_names_fts SET user_name_key = new.user_name_key,
        given_key = lower(new.given_name), family_key = lower(new.family_name)
        WHERE rowid = old.seq;
END;
