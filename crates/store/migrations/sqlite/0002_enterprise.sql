-- The SCIM Enterprise User extension (RFC 7643 §4.3): columns, so filters use plain SQL.
ALTER TABLE users ADD COLUMN employee_number TEXT;
ALTER TABLE users ADD COLUMN cost_center TEXT;
ALTER TABLE users ADD COLUMN organization TEXT;
ALTER TABLE users ADD COLUMN division TEXT;
ALTER TABLE users ADD COLUMN department TEXT;
ALTER TABLE users ADD COLUMN manager_id TEXT;
CREATE INDEX users_employee_number ON users (employee_number);
