//! Contabo's response shapes. The SDK's models are strict: every field of a UserResponse is
//! required, names and email are 1–255 characters, `locale` one of four values.

use roster_core::role::OrgRole;
use roster_core::User;
use serde_json::{json, Value};

use crate::app::AppState;

/// The locales Contabo knows; a read shows no other.
pub const LOCALES: [&str; 4] = ["de-DE", "de", "en-US", "en"];
/// Longest name or email the SDK accepts.
const MAX: usize = 255;

fn clip(s: &str) -> String {
    s.chars().take(MAX).collect()
}

/// The user's email as Contabo shows it: the mail address, else the login.
pub fn email(user: &User) -> String {
    clip(user.mail_address().unwrap_or(user.user_name.as_str()))
}

/// A name for a field that must not be empty: the user's own, else the displayName, else the
/// email's local part (users made through SCIM may have none of the first two).
fn name(own: Option<&str>, user: &User) -> String {
    let email = email(user);
    let local = email.split('@').next().unwrap_or("");
    let found = [own, user.display_name.as_deref(), Some(local)]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map_or_else(|| "user".to_owned(), clip);
    found
}

/// A stored locale as one of [`LOCALES`]: itself, else its language (`de_AT` → `de`), else `en`.
pub fn locale(user: &User) -> &'static str {
    let stored = user.locale.as_deref().unwrap_or("");
    if let Some(l) = LOCALES.iter().find(|l| l.eq_ignore_ascii_case(stored)) {
        return l;
    }
    if stored
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case("de"))
    {
        "de"
    } else {
        "en"
    }
}

pub fn role(state: &AppState, r: &OrgRole) -> Value {
    json!({
        "roleId": r.id,
        "tenantId": state.tenant_id.as_ref(),
        "customerId": state.customer_id.as_ref(),
        "name": r.role.name,
        "admin": r.role.admin,
        "accessAllResources": r.role.access_all_resources,
        "type": r.role.kind.as_str(),
        "permissions": r.role.permissions,
    })
}

pub fn user(state: &AppState, user: &User, roles: &[&OrgRole]) -> Value {
    json!({
        "tenantId": state.tenant_id.as_ref(),
        "customerId": state.customer_id.as_ref(),
        "userId": user.id.to_string(),
        "firstName": name(user.given_name.as_deref(), user),
        "lastName": name(user.family_name.as_deref(), user),
        "email": email(user),
        "emailVerified": user.email_verified(),
        "enabled": user.active,
        "totp": user.totp,
        "locale": locale(user),
        "roles": roles.iter().map(|r| role(state, r)).collect::<Vec<_>>(),
        "owner": user.owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{NewUser, UserName};

    fn bare(name: &str) -> User {
        let new = NewUser::new(UserName::parse(name).unwrap());
        let mut u = new.stored(1, uuid::Uuid::nil(), 0);
        u.locale = Some("fr-FR".into());
        u
    }

    #[test]
    fn names_and_locales_are_never_empty_or_foreign() {
        let u = bare("jo.doe@example.com");
        assert_eq!(name(None, &u), "jo.doe");
        assert_eq!(name(Some("  "), &u), "jo.doe");
        assert_eq!(locale(&u), "en");
        let mut u = bare("plain");
        assert_eq!(name(None, &u), "plain");
        u.display_name = Some("Jo Doe".into());
        assert_eq!(name(None, &u), "Jo Doe");
        assert_eq!(name(Some("Jo"), &u), "Jo");
        u.locale = Some("de_AT".into());
        assert_eq!(locale(&u), "de");
        u.locale = Some("EN-us".into());
        assert_eq!(locale(&u), "en-US");
        assert_eq!(name(Some(&"x".repeat(300)), &u).chars().count(), 255);
    }
}
