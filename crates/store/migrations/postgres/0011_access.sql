-- SailPoint capabilities besides ORG_ADMIN (which is manage-organization + manage-groups and
-- never stored), the current sign-in (0001 has the last one), when the password last changed,
-- and the moment before which every access token of the user is void (set when the user is
-- deactivated: tokens do not come back with a reactivation, as API tokens do not).
CREATE TABLE user_capabilities (
    user_seq   BIGINT NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    capability TEXT    NOT NULL,
    PRIMARY KEY (user_seq, capability)
);
ALTER TABLE users ADD COLUMN current_login_at BIGINT;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
ALTER TABLE users ADD COLUMN tokens_after BIGINT;
