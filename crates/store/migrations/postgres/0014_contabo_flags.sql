-- Contabo's user flags: two-factor sign-in asked for (TOTP; enforced once enrolment exists)
-- and the organization's owner (the bootstrap admin: its audit row names it).
ALTER TABLE users ADD COLUMN totp BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN owner BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET owner = TRUE WHERE id IN (SELECT target FROM audit_log WHERE action = 'bootstrap');
