-- Whether 'active' was given (RFC 7644 3.5.2.2: a removed attribute is unassigned). An
-- unassigned flag reads as active; SCIM responses then omit the attribute.
ALTER TABLE users ADD COLUMN active_assigned BOOLEAN NOT NULL DEFAULT TRUE;
