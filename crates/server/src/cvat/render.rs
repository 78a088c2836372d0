//! CVAT's user shapes: the full `User` for administrators and the user themself, the
//! `BasicUser` (`url, id, username, first_name, last_name`) for everyone else. The SDK
//! checks every answer (types, lengths, `username`'s pattern) and refuses a whole page for
//! one bad user, so every string here is never null and within its limit.

use std::borrow::Cow;

use roster_core::{capability, Permission, User};
use roster_store::Authz;
use serde_json::{json, Value};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::app::AppState;

/// The SDK's limit on `username`, `first_name` and `last_name`.
pub const MAX_NAME: usize = 150;
const MAX_EMAIL: usize = 254;

/// Python's `\w` for text: letters, numbers and `_` (`isalnum() or "_"`).
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || (!c.is_ascii()
            && matches!(
                c.general_category_group(),
                GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
            ))
}

/// Whether `c` may appear in a CVAT username (`^[\w.@+-]+$`).
pub fn username_char(c: char) -> bool {
    word(c) || matches!(c, '.' | '@' | '+' | '-')
}

/// The rendering rule for userNames made elsewhere: a userName the pattern allows shows as
/// it is; any other shows with each character outside `[\w.@+-]` as `_`, cut to 150
/// characters. The stored userName is not changed; a PATCH of `username` sets it to the
/// (valid) value sent.
pub fn username(name: &str) -> Cow<'_, str> {
    if name.chars().count() <= MAX_NAME && name.chars().all(username_char) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.chars()
            .map(|c| if username_char(c) { c } else { '_' })
            .take(MAX_NAME)
            .collect(),
    )
}

fn cut(s: Option<&str>, max: usize) -> String {
    s.unwrap_or("").chars().take(max).collect()
}

fn url(state: &AppState, u: &User) -> String {
    format!("{}/api/users/{}", state.public_url, u.seq)
}

/// The BasicUser shape.
pub fn basic(state: &AppState, u: &User) -> Value {
    json!({
        "url": url(state, u),
        "id": u.seq,
        "username": username(u.user_name.as_str()),
        "first_name": cut(u.given_name.as_deref(), MAX_NAME),
        "last_name": cut(u.family_name.as_deref(), MAX_NAME),
    })
}

/// The full User shape, with what authorises the user.
pub fn full(state: &AppState, u: &User, authz: &Authz) -> Value {
    let p = &authz.permissions;
    let mut v = basic(state, u);
    if let Value::Object(m) = &mut v {
        let more = json!({
            "email": cut(u.mail_address(), MAX_EMAIL),
            "groups": [capability::cvat_group(p)],
            "is_staff": p.contains(&Permission::ManageOrganization),
            "is_superuser": capability::is_org_admin(p),
            "is_active": u.active,
            "last_login": authz.last_login_at.map(roster_core::format_micros),
            "date_joined": roster_core::format_micros(u.meta.created),
            "email_verified": u.email_verified(),
        });
        if let Value::Object(extra) = more {
            m.extend(extra);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_keep_to_the_sdk_pattern() {
        assert_eq!(username("ada.lovelace+1@x-y"), "ada.lovelace+1@x-y");
        assert_eq!(username("ada lovelace"), "ada_lovelace");
        assert_eq!(username("zoë"), "zoë");
        assert_eq!(username("a/b\\c\u{301}"), "a_b_c_");
        let long = "x".repeat(200);
        assert_eq!(username(&long).chars().count(), MAX_NAME);
        assert!(username("émile 李 ٣").chars().all(username_char));
    }
}
