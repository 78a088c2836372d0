-- The rest of the core User schema (RFC 7643 §4.1): singular strings in columns so they
-- filter and sort in SQL; multi-valued complex attributes (phoneNumbers, addresses, ...)
-- as one JSON document.
ALTER TABLE users ADD COLUMN nick_name TEXT;
ALTER TABLE users ADD COLUMN title TEXT;
ALTER TABLE users ADD COLUMN user_type TEXT;
ALTER TABLE users ADD COLUMN profile_url TEXT;
ALTER TABLE users ADD COLUMN preferred_language TEXT;
ALTER TABLE users ADD COLUMN timezone TEXT;
ALTER TABLE users ADD COLUMN name_formatted TEXT;
ALTER TABLE users ADD COLUMN middle_name TEXT;
ALTER TABLE users ADD COLUMN honorific_prefix TEXT;
ALTER TABLE users ADD COLUMN honorific_suffix TEXT;
ALTER TABLE users ADD COLUMN multi TEXT NOT NULL DEFAULT '{}';
