use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{CoreError, Micros};

/// Longest userName accepted; a directory login longer than this is a mistake, not data.
pub const MAX_USER_NAME_LEN: usize = 256;
/// Longest free-text attribute (displayName, externalId, email value ...).
pub const MAX_TEXT_LEN: usize = 1024;
/// Most values one multi-valued attribute of a user holds (emails, phoneNumbers, roles ...):
/// enough for any real directory, and a bound on what one account can make every read of
/// it cost.
pub const MAX_VALUES: usize = 100;

/// Refuses a multi-valued attribute with more than [`MAX_VALUES`] values.
pub fn check_count(name: &str, n: usize) -> Result<(), CoreError> {
    if n > MAX_VALUES {
        return Err(CoreError::TooMany(format!(
            "{name} may hold at most {MAX_VALUES} values, got {n}"
        )));
    }
    Ok(())
}

/// A login name. SCIM says userName is unique and not case-exact, so equality and the
/// uniqueness key use [`UserName::key`], a Unicode lower-case fold computed here (not by the
/// database, whose `lower()` differs between SQLite and PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(CoreError::invalid_value("userName must not be empty"));
        }
        if s.chars().count() > MAX_USER_NAME_LEN {
            return Err(CoreError::invalid_value(format!(
                "userName is longer than {MAX_USER_NAME_LEN} characters"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(CoreError::invalid_value(
                "userName must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness and comparisons.
    pub fn key(&self) -> String {
        fold(&self.0)
    }
}

/// Case folding shared by every case-insensitive attribute (userName, email values).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Validates an optional free-text attribute.
pub fn check_text(name: &str, value: &str) -> Result<(), CoreError> {
    if value.chars().count() > MAX_TEXT_LEN {
        return Err(CoreError::invalid_value(format!(
            "{name} is longer than {MAX_TEXT_LEN} characters"
        )));
    }
    if value.contains('\0') {
        return Err(CoreError::invalid_value(format!(
            "{name} must not contain NUL characters"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Email {
    pub value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub primary: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display: Option<String>,
}

impl User {
    /// Makes `e` the primary address (replacing the primary one, or the first, unless it is
    /// the same address in another case); `""` removes the primary address.
    pub fn set_primary_email(&mut self, e: &str) {
        let primary = self
            .emails
            .iter()
            .position(|m| m.primary)
            .or(if self.emails.is_empty() {
                None
            } else {
                Some(0)
            });
        if e.is_empty() {
            if let Some(i) = primary {
                self.emails.remove(i);
            }
            return;
        }
        match primary.and_then(|i| self.emails.get_mut(i)) {
            Some(m) if m.value.eq_ignore_ascii_case(e) => {}
            Some(m) => {
                *m = Email {
                    value: e.to_owned(),
                    kind: m.kind.clone(),
                    primary: true,
                    display: None,
                };
            }
            None => self.emails.push(Email {
                value: e.to_owned(),
                kind: None,
                primary: true,
                display: None,
            }),
        }
    }

    /// Makes `others` the addresses beside the primary one, in that order: an address kept
    /// keeps its type, a new one is `other`; one equal to the primary (in any case) is
    /// dropped. The count is bounded by the write's validation ([`MAX_VALUES`]).
    pub fn set_other_emails(&mut self, others: &[&str]) {
        let primary = self.primary_email().map(str::to_owned);
        let (mut kept, old): (Vec<Email>, Vec<Email>) = std::mem::take(&mut self.emails)
            .into_iter()
            .partition(|m| Some(m.value.as_str()) == primary.as_deref());
        for v in others {
            let same = |a: &str| a.eq_ignore_ascii_case(v);
            if primary.as_deref().is_some_and(same) || kept.iter().any(|m| same(&m.value)) {
                continue;
            }
            let kind = old
                .iter()
                .find(|m| same(&m.value))
                .map_or(Some("other".to_owned()), |m| m.kind.clone());
            kept.push(Email {
                value: (*v).to_owned(),
                kind,
                primary: false,
                display: None,
            });
        }
        self.emails = kept;
    }

    /// The primary address, else the first.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|m| m.primary)
            .or(self.emails.first())
            .map(|m| m.value.as_str())
    }
}

impl Email {
    pub fn validate(&self) -> Result<(), CoreError> {
        check_text("emails.value", &self.value)?;
        if self.value.trim().is_empty() {
            return Err(CoreError::invalid_value("emails.value must not be empty"));
        }
        if let Some(k) = &self.kind {
            check_text("emails.type", k)?;
        }
        if let Some(d) = &self.display {
            check_text("emails.display", d)?;
        }
        Ok(())
    }
}

/// Singular string attributes of the core User schema beyond the ones with their own
/// fields, by SCIM path. Stored in columns (filterable, sortable); see `roster_store`.
pub const PROFILE_ATTRS: [&str; 10] = [
    "nickName",
    "title",
    "userType",
    "profileUrl",
    "preferredLanguage",
    "timezone",
    "name.formatted",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
];

/// Multi-valued complex attributes kept as JSON (RFC 7643 §4.1.2), each an array of
/// objects with string sub-attributes and an optional boolean `primary`.
pub const MULTI_ATTRS: [&str; 7] = [
    "phoneNumbers",
    "addresses",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509Certificates",
];

/// The sub-attributes of [`MULTI_ATTRS`] in their RFC 7643 spelling.
const SUB_ATTRS: [&str; 11] = [
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
];

/// Spells the known sub-attributes of one value the RFC's way (names are case-insensitive,
/// RFC 7643 §2.1): `{"Value": .., "Type": ..}` is kept as `{"value": .., "type": ..}`, so it
/// reads back as every client expects. Two keys that differ only in case are an error.
pub fn canonical_item(
    name: &str,
    item: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), CoreError> {
    let canonical = |k: &str| {
        SUB_ATTRS
            .iter()
            .find(|s| s.eq_ignore_ascii_case(k))
            .copied()
    };
    if item.keys().all(|k| canonical(k).is_none_or(|c| c == k)) {
        return Ok(());
    }
    let mut out = serde_json::Map::new();
    for (k, v) in std::mem::take(item) {
        let key = canonical(&k).map(str::to_owned).unwrap_or(k);
        if out.contains_key(&key) {
            return Err(CoreError::invalid_value(format!(
                "{name} has {key} twice (names are case-insensitive)"
            )));
        }
        out.insert(key, v);
    }
    *item = out;
    Ok(())
}

/// The index of a profile attribute named case-insensitively.
pub fn profile_index(path: &str) -> Option<usize> {
    PROFILE_ATTRS
        .iter()
        .position(|p| p.eq_ignore_ascii_case(path))
}

/// The canonical spelling of a multi-valued attribute named case-insensitively.
pub fn multi_name(name: &str) -> Option<&'static str> {
    MULTI_ATTRS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// Validates one multi-valued attribute: objects, string (or for `primary`, boolean)
/// sub-attributes, at most one primary.
pub fn validate_multi(name: &str, items: &[serde_json::Value]) -> Result<(), CoreError> {
    check_count(name, items.len())?;
    let mut primaries = 0;
    for item in items {
        let o = item
            .as_object()
            .ok_or_else(|| CoreError::invalid_value(format!("each of {name} must be an object")))?;
        for (k, v) in o {
            match (k.as_str(), v) {
                ("primary", serde_json::Value::Bool(p)) => primaries += usize::from(*p),
                (_, serde_json::Value::String(s)) => check_text(&format!("{name}.{k}"), s)?,
                (_, serde_json::Value::Null) => {}
                _ => {
                    return Err(CoreError::invalid_value(format!(
                        "{name}.{k} must be a string"
                    )))
                }
            }
        }
    }
    if primaries > 1 {
        return Err(CoreError::invalid_value(format!(
            "at most one of {name} may have primary: true"
        )));
    }
    Ok(())
}

/// The SCIM Enterprise User extension (RFC 7643 §4.3). `manager` holds the manager's user id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enterprise {
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
}

impl Enterprise {
    pub fn is_empty(&self) -> bool {
        *self == Enterprise::default()
    }

    fn texts(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("employeeNumber", &self.employee_number),
            ("costCenter", &self.cost_center),
            ("organization", &self.organization),
            ("division", &self.division),
            ("department", &self.department),
            ("manager.value", &self.manager),
        ]
    }
}

/// Version and timestamps every resource carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub created: Micros,
    pub last_modified: Micros,
    pub version: i64,
}

impl Meta {
    /// Weak ETag built from the version (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Internal key; CVAT shows it as the integer id.
    pub seq: i64,
    /// The public id in every string-id dialect.
    pub id: Uuid,
    pub user_name: UserName,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<Email>,
    /// Whether the account may sign in (an unassigned flag reads as active).
    pub active: bool,
    /// False when `active` was never given or was removed: SCIM then omits it.
    pub active_assigned: bool,
    pub locale: Option<String>,
    /// Values of [`PROFILE_ATTRS`], by index; `None` when unset.
    pub profile: [Option<String>; 10],
    /// Values of [`MULTI_ATTRS`] that are set, by canonical name.
    pub multi: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    pub enterprise: Enterprise,
    pub meta: Meta,
    /// A password change to write with the next save (`Some(None)` clears it). Never
    /// loaded: the stored hash does not leave the store.
    pub set_password_hash: Option<Option<String>>,
    /// The roles the user holds from the next save on (`Some(vec![])` removes all). Never
    /// loaded: the store lists a user's roles separately.
    pub set_roles: Option<Vec<i64>>,
    /// Write-only: permissions to grant (`true`) or revoke with this update, in its
    /// transaction (a dialect whose user shape carries permissions).
    pub set_permissions: Option<Vec<(crate::Permission, bool)>>,
    /// The groups the user is a member of, as far as the reader sees them; `None` when they
    /// were not asked for. Read-only here: memberships change through the group.
    pub groups: Option<Vec<crate::UserGroup>>,
    /// The roles the user holds, oldest first; `None` when they were not asked for.
    pub roles: Option<Vec<crate::role::OrgRole>>,
    /// The address (folded) the user proved to own by following a verification or reset
    /// link. Read-only here: only redeeming such a link sets it.
    pub verified_email: Option<String>,
    /// Two-factor sign-in asked for (Contabo's `totp`).
    pub totp: bool,
    /// The organization's owner: the bootstrap admin. Read-only here.
    pub owner: bool,
}

impl User {
    /// Whether the user proved to own one of their current addresses (changing the address
    /// to another one ends it).
    pub fn email_verified(&self) -> bool {
        self.verified_email
            .as_deref()
            .is_some_and(|v| self.emails.iter().any(|e| fold(&e.value) == v))
    }

    /// The names of the attributes that differ from `before` (for the audit trail: names,
    /// never values), in schema order; `password`, `roles` and `permissions` when the update
    /// writes them.
    pub fn changed_since(&self, before: &User) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |same: bool, name: &'static str| {
            if !same {
                out.push(name);
            }
        };
        note(self.user_name == before.user_name, "userName");
        note(self.external_id == before.external_id, "externalId");
        note(self.display_name == before.display_name, "displayName");
        note(self.given_name == before.given_name, "name.givenName");
        note(self.family_name == before.family_name, "name.familyName");
        for (i, name) in PROFILE_ATTRS.iter().enumerate() {
            note(self.profile.get(i) == before.profile.get(i), name);
        }
        note(self.emails == before.emails, "emails");
        note(self.active == before.active, "active");
        note(self.locale == before.locale, "locale");
        note(self.multi == before.multi, "multiValued");
        note(self.enterprise == before.enterprise, "enterprise");
        note(self.totp == before.totp, "totp");
        note(self.set_password_hash.is_none(), "password");
        note(self.set_roles.is_none(), "roles");
        note(self.set_permissions.is_none(), "permissions");
        out
    }

    /// Where mail to the user goes: the primary address, else the first.
    pub fn mail_address(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }

    /// Checks invariants that hold whatever dialect wrote the user.
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_enterprise(&self.enterprise)?;
        validate_more(&self.profile, &self.multi)?;
        validate_fields(
            &self.emails,
            [
                ("externalId", &self.external_id),
                ("displayName", &self.display_name),
                ("name.givenName", &self.given_name),
                ("name.familyName", &self.family_name),
                ("locale", &self.locale),
            ],
        )
    }
}

fn validate_more(
    profile: &[Option<String>; 10],
    multi: &std::collections::BTreeMap<String, Vec<serde_json::Value>>,
) -> Result<(), CoreError> {
    for (name, v) in PROFILE_ATTRS.iter().zip(profile) {
        if let Some(v) = v {
            check_text(name, v)?;
        }
    }
    for (name, items) in multi {
        validate_multi(name, items)?;
    }
    Ok(())
}

fn validate_enterprise(e: &Enterprise) -> Result<(), CoreError> {
    for (name, v) in e.texts() {
        if let Some(v) = v {
            check_text(name, v)?;
        }
    }
    Ok(())
}

fn validate_fields<const N: usize>(
    emails: &[Email],
    texts: [(&str, &Option<String>); N],
) -> Result<(), CoreError> {
    for (name, v) in texts {
        if let Some(v) = v {
            check_text(name, v)?;
        }
    }
    check_count("emails", emails.len())?;
    for e in emails {
        e.validate()?;
    }
    if emails.iter().filter(|e| e.primary).count() > 1 {
        return Err(CoreError::invalid_value(
            "at most one email may have primary: true",
        ));
    }
    Ok(())
}

/// What a dialect supplies to create (or upsert) a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user_name: UserName,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<Email>,
    pub active: bool,
    pub active_assigned: bool,
    pub locale: Option<String>,
    pub profile: [Option<String>; 10],
    pub multi: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    pub enterprise: Enterprise,
    /// An argon2id PHC string, never a clear password.
    pub password_hash: Option<String>,
    pub totp: bool,
    /// Ids of the roles ([`crate::role`]) the user holds from the start.
    pub roles: Vec<i64>,
}

impl NewUser {
    /// The user this becomes once stored as `seq` and `id` at `now`: version 1, in no
    /// group, nothing verified, not the owner.
    pub fn stored(&self, seq: i64, id: uuid::Uuid, now: Micros) -> User {
        User {
            seq,
            id,
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            emails: self.emails.clone(),
            active: self.active,
            active_assigned: self.active_assigned,
            locale: self.locale.clone(),
            profile: self.profile.clone(),
            multi: self.multi.clone(),
            enterprise: self.enterprise.clone(),
            meta: Meta {
                created: now,
                last_modified: now,
                version: 1,
            },
            set_password_hash: None,
            set_roles: None,
            set_permissions: None,
            groups: None,
            roles: None,
            verified_email: None,
            totp: self.totp,
            owner: false,
        }
    }

    pub fn new(user_name: UserName) -> Self {
        Self {
            user_name,
            external_id: None,
            display_name: None,
            given_name: None,
            family_name: None,
            emails: Vec::new(),
            active: true,
            active_assigned: true,
            locale: None,
            profile: Default::default(),
            multi: Default::default(),
            enterprise: Enterprise::default(),
            password_hash: None,
            totp: false,
            roles: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), CoreError> {
        validate_enterprise(&self.enterprise)?;
        validate_more(&self.profile, &self.multi)?;
        validate_fields(
            &self.emails,
            [
                ("externalId", &self.external_id),
                ("displayName", &self.display_name),
                ("name.givenName", &self.given_name),
                ("name.familyName", &self.family_name),
                ("locale", &self.locale),
            ],
        )
    }

    /// Copies the writable attributes onto an existing user (the upsert path).
    pub fn apply_to(&self, user: &mut User) {
        user.user_name = self.user_name.clone();
        user.external_id = self.external_id.clone();
        user.display_name = self.display_name.clone();
        user.given_name = self.given_name.clone();
        user.family_name = self.family_name.clone();
        user.emails = self.emails.clone();
        user.active = self.active;
        user.active_assigned = self.active_assigned;
        user.locale = self.locale.clone();
        user.profile = self.profile.clone();
        user.multi = self.multi.clone();
        user.enterprise = self.enterprise.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_emails(emails: &[(&str, bool, &str)]) -> User {
        let mut new = NewUser::new(UserName::parse("ada").unwrap());
        new.emails = emails
            .iter()
            .map(|(v, primary, kind)| Email {
                value: (*v).to_owned(),
                kind: Some((*kind).to_owned()),
                primary: *primary,
                display: None,
            })
            .collect();
        new.stored(1, uuid::Uuid::nil(), 0)
    }

    fn values(u: &User) -> Vec<(&str, bool, Option<&str>)> {
        u.emails
            .iter()
            .map(|m| (m.value.as_str(), m.primary, m.kind.as_deref()))
            .collect()
    }

    #[test]
    fn other_addresses_replace_the_non_primary_ones() {
        let mut u = with_emails(&[
            ("home@x.org", false, "home"),
            ("ada@x.org", true, "work"),
            ("old@x.org", false, "other"),
        ]);
        u.set_other_emails(&["new@x.org", "HOME@x.org", "Ada@X.org", "new@x.org"]);
        assert_eq!(
            values(&u),
            vec![
                ("ada@x.org", true, Some("work")),
                ("new@x.org", false, Some("other")),
                ("HOME@x.org", false, Some("home")),
            ]
        );
        u.set_other_emails(&[]);
        assert_eq!(values(&u), vec![("ada@x.org", true, Some("work"))]);
    }

    #[test]
    fn the_primary_address_is_replaced_in_place() {
        let mut u = with_emails(&[("a@x.org", false, "home"), ("b@x.org", true, "work")]);
        u.set_primary_email("c@x.org");
        assert_eq!(
            values(&u),
            vec![
                ("a@x.org", false, Some("home")),
                ("c@x.org", true, Some("work"))
            ]
        );
        u.set_primary_email("");
        assert_eq!(values(&u), vec![("a@x.org", false, Some("home"))]);
    }
}
