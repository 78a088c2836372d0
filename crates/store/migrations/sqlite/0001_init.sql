-- Users: `seq` is the internal key (CVAT's integer id); `id` the public UUID.
-- Case-insensitive uniqueness of userName is enforced by the index on user_name_key,
-- a Unicode lower-case fold computed by Roster (SQLite's lower() is ASCII-only).
CREATE TABLE users (
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    user_name      TEXT    NOT NULL,
    user_name_key  TEXT    NOT NULL,
    external_id    TEXT,
    display_name   TEXT,
    given_name     TEXT,
    family_name    TEXT,
    emails         TEXT    NOT NULL DEFAULT '[]',
    active         INTEGER NOT NULL DEFAULT 1,
    locale         TEXT,
    password_hash  TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    last_login_at  INTEGER
);
CREATE UNIQUE INDEX users_user_name_key ON users (user_name_key);
CREATE INDEX users_external_id ON users (external_id);

-- Emails are rendered from users.emails (JSON); this table exists so filters on
-- emails.value / emails.type are index lookups.
CREATE TABLE user_emails (
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    value_key  TEXT    NOT NULL,
    type_key   TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX user_emails_user ON user_emails (user_seq);
CREATE INDEX user_emails_value ON user_emails (value_key);

CREATE TABLE user_permissions (
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    permission TEXT    NOT NULL,
    PRIMARY KEY (user_seq, permission)
) WITHOUT ROWID;

CREATE TABLE api_tokens (
    seq          INTEGER PRIMARY KEY,
    user_seq     INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    name         TEXT,
    label        TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_seq);

CREATE TABLE groups (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    display_name     TEXT    NOT NULL,
    display_name_key TEXT    NOT NULL,
    external_id      TEXT,
    created_at       INTEGER NOT NULL,
    modified_at      INTEGER NOT NULL,
    version          INTEGER NOT NULL
);
CREATE INDEX groups_display_name_key ON groups (display_name_key);

-- One row per (group, user); membership changes are single-row writes whatever the
-- group size.
CREATE TABLE memberships (
    group_seq  INTEGER NOT NULL REFERENCES groups (seq) ON DELETE CASCADE,
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_seq, user_seq)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_seq, group_seq);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT,
    action     TEXT    NOT NULL,
    target     TEXT,
    request_id TEXT
);
