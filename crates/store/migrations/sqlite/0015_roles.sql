-- Roles users hold (Contabo's RoleResponse). A role with admin gives its holders
-- manage-organization: such grants are marked via_role, so losing the last admin role takes
-- back only what a role gave (a grant made directly stays).
CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    admin                INTEGER NOT NULL DEFAULT 0,
    access_all_resources INTEGER NOT NULL DEFAULT 0,
    kind                 TEXT    NOT NULL DEFAULT 'custom',
    -- [{"apiName", "actions", "resources": [{"tagId", "tagName"}]}]
    permissions          TEXT    NOT NULL DEFAULT '[]',
    created_at           INTEGER NOT NULL,
    modified_at          INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_seq INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    role_id  INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_seq, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

ALTER TABLE user_permissions ADD COLUMN via_role INTEGER NOT NULL DEFAULT 0;
