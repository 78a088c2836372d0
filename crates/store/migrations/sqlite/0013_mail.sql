-- One-time tokens (password reset, email verification) and the mail outbox. A token's mail
-- is written in the transaction that stores the token; a background sender on any node
-- claims due mails with a lease and delivers them at least once.
CREATE TABLE one_time_tokens (
    -- SHA-256 (hex) of the 256-bit token; the token itself is only in the mail.
    token_hash   TEXT    NOT NULL PRIMARY KEY,
    user_seq     INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    purpose      TEXT    NOT NULL,
    -- The address the mail went to: verification marks this one.
    email        TEXT    NOT NULL,
    redirect_url TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_seq, purpose, created_at);

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    -- Stable across retries, so a receiver can drop a duplicate of an at-least-once delivery.
    message_id      TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    user_seq        INTEGER REFERENCES users (seq) ON DELETE SET NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    -- The text and HTML parts (they carry the token's link) sealed with the server key;
    -- emptied once the mail is sent.
    body_sealed     TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Who is sending it now and until when; a node killed mid-send leaves it to the next
    -- claim after this.
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);

-- The (folded) address the user proved to own; the email is verified while it is still one
-- of the user's addresses.
ALTER TABLE users ADD COLUMN verified_email TEXT;
