-- Contabo's user flags: two-factor sign-in asked for (TOTP; enforced once enrolment exists)
-- and the organization's owner (the bootstrap admin: its audit row names it).
ALTER TABLE users ADD COLUMN totp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;
UPDATE users SET owner = 1 WHERE id IN (SELECT target FROM audit_log WHERE action = 'bootstrap');
