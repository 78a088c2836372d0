-- Substring filters on email values (emails.value co/ew) look up a trigram index instead
-- of scanning every address: an FTS5 table over user_emails.value_key. (sw is a range of
-- the B-tree index user_emails_value already.)
--
-- An external-content FTS5 index addresses its rows by the content table's rowid, which
-- VACUUM may renumber unless it is an INTEGER PRIMARY KEY: rebuild user_emails with one.
CREATE TABLE user_emails_new (
    seq        INTEGER PRIMARY KEY,
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    value_key  TEXT    NOT NULL,
    type_key   TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0
);
INSERT INTO user_emails_new (user_seq, value_key, type_key, is_primary)
    SELECT user_seq, value_key, type_key, is_primary FROM user_emails ORDER BY rowid;
DROP TABLE user_emails;
ALTER TABLE user_emails_new RENAME TO user_emails;
CREATE INDEX user_emails_user ON user_emails (user_seq);
CREATE INDEX user_emails_value ON user_emails (value_key);

-- case_sensitive 1 with GLOB queries keeps matching exactly as case-sensitive as LIKE is
-- (values are folded by Roster; FTS5 only answers LIKE on case-insensitive trigrams).
CREATE VIRTUAL TABLE user_emails_fts USING fts5 (
    value_key,
    content = 'user_emails',
    content_rowid = 'seq',
    tokenize = 'trigram case_sensitive 1'
);
INSERT INTO user_emails_fts (user_emails_fts) VALUES ('rebuild');

-- Kept in step in the writer's transaction (this includes ON DELETE CASCADE from users).
CREATE TRIGGER user_emails_fts_insert AFTER INSERT ON user_emails BEGIN
    INSERT INTO user_emails_fts (rowid, value_key) VALUES (new.seq, new.value_key);
END;
CREATE TRIGGER user_emails_fts_delete AFTER DELETE ON user_emails BEGIN
    INSERT INTO user_emails_fts (user_emails_fts, rowid, value_key)
        VALUES ('delete', old.seq, old.value_key);
END;
CREATE TRIGGER user_emails_fts_update AFTER UPDATE OF seq, value_key ON user_emails BEGIN
    INSERT INTO user_emails_fts (user_emails_fts, rowid, value_key)
        VALUES ('delete', old.seq, old.value_key);
    INSERT INTO user_emails_fts (rowid, value_key) VALUES (new.seq, new.value_key);
END;
