-- The member display a client supplied (SCIM echoes it back as given).
ALTER TABLE memberships ADD COLUMN display TEXT;
