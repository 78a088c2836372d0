-- Console sessions (issue 17) share the sessions table with CVAT's: `kind` keeps a console
-- cookie from opening a CVAT session and back; `idle_micros` (0: none) ends a session that
-- has not been used for that long, measured from `last_seen_at`.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE sessions ADD COLUMN idle_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;

-- TOTP (RFC 6238) second factor. The shared secret is sealed with the server key (it must
-- be read again to check codes); `enrolled_at` is NULL while an enrolment waits for its
-- first code. `last_step` is the newest time step a code was accepted for: a code is good
-- once (a replayed code, even within its 30 seconds, is refused).
CREATE TABLE user_totp (
    user_seq      BIGINT PRIMARY KEY REFERENCES users (seq) ON DELETE CASCADE,
    secret_sealed TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    enrolled_at   BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0
);
-- Recovery codes: SHA-256 hashes, each good once.
CREATE TABLE totp_recovery (
    user_seq  BIGINT NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_seq, code_hash)
);
