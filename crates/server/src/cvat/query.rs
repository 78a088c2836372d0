//! The user list's parameters (`page`, `page_size`, the exact filters, `search`, `sort`,
//! `filter` as JSON-Logic) and the organization a request is in, made into a [`UserQuery`].

use axum::http::HeaderMap;
use roster_core::filter::{jsonlogic, CompareOp};
use roster_core::schema::{Cond, Field, Scalar, Sort};
use roster_core::user::fold;
use roster_core::PageRequest;
use roster_store::{OrgKey, UserQuery};

use crate::app::AppState;
use crate::http::extract::QueryPairs;
use crate::http::{ApiError, Kind};

/// Users per page without `page_size`, and the most a page holds (larger sizes are cut to
/// it, as DRF does).
pub const DEFAULT_PAGE_SIZE: i64 = 10;
pub const MAX_PAGE_SIZE: i64 = 100;
/// Longest `search` and exact-filter value, and most `sort` keys.
const MAX_TEXT: usize = 255;
const MAX_SORT_KEYS: usize = 5;

/// The fields a list filters and sorts on, by CVAT's names.
pub fn field(name: &str) -> Option<Field> {
    Some(match name {
        "username" => Field::UserName,
        "first_name" => Field::GivenName,
        "last_name" => Field::FamilyName,
        "id" => Field::UserSeq,
        "is_active" => Field::Active,
        _ => return None,
    })
}

const FIELDS: &str = "username, first_name, last_name, id, is_active";

fn and(a: Option<Cond>, b: Cond) -> Option<Cond> {
    Some(match a {
        Some(a) => Cond::And(Box::new(a), Box::new(b)),
        None => b,
    })
}

fn or(a: Cond, b: Cond) -> Cond {
    Cond::Or(Box::new(a), Box::new(b))
}

fn bad(field: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(Kind::InvalidValue, msg).on_field(field)
}

/// `True`/`False` as Python prints them, and the other spellings DRF takes.
pub fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn text_param<'a>(q: &'a QueryPairs, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > MAX_TEXT => Err(bad(
            name,
            format!("Ensure this value has at most {MAX_TEXT} characters."),
        )),
        other => Ok(other),
    }
}

/// The page (1-based) and its size.
pub fn page(q: &QueryPairs) -> Result<(i64, i64), ApiError> {
    let page = match q.get("page").filter(|v| !v.is_empty()) {
        None => 1,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
            .ok_or_else(|| ApiError::new(Kind::NotFound, "Invalid page."))?,
    };
    // DRF reads a size it cannot use as the default one.
    let size = q
        .get("page_size")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
    Ok((page, size))
}

fn sort(raw: &str) -> Result<Vec<Sort>, ApiError> {
    let keys: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.len() > MAX_SORT_KEYS {
        return Err(bad(
            "sort",
            format!("sort takes at most {MAX_SORT_KEYS} fields"),
        ));
    }
    keys.iter()
        .map(|k| {
            let (descending, name) = match k.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, *k),
            };
            let field = field(name).ok_or_else(|| {
                bad(
                    "sort",
                    format!(
                        "{:?} is not a field to sort by; use {FIELDS}",
                        name.chars().take(64).collect::<String>()
                    ),
                )
            })?;
            Ok(Sort { field, descending })
        })
        .collect()
}

/// The list's filter, sort and page.
pub fn users(q: &QueryPairs) -> Result<(UserQuery, i64, i64), ApiError> {
    let (page, size) = page(q)?;
    let mut filter = None;
    for (name, f) in [
        ("username", Field::UserName),
        ("first_name", Field::GivenName),
        ("last_name", Field::FamilyName),
    ] {
        if let Some(v) = text_param(q, name)? {
            filter = and(filter, Cond::Cmp(f, CompareOp::Eq, Scalar::Text(fold(v))));
        }
    }
    if let Some(v) = q.get("is_active").filter(|v| !v.is_empty()) {
        let b =
            boolean(v).ok_or_else(|| bad("is_active", "Enter a valid boolean: True or False."))?;
        filter = and(
            filter,
            Cond::Cmp(Field::Active, CompareOp::Eq, Scalar::Bool(b)),
        );
    }
    if let Some(s) = text_param(q, "search")? {
        let needle = || Scalar::Text(fold(s));
        let any = or(
            or(
                Cond::Cmp(Field::UserName, CompareOp::Co, needle()),
                Cond::Cmp(Field::GivenName, CompareOp::Co, needle()),
            ),
            Cond::Cmp(Field::FamilyName, CompareOp::Co, needle()),
        );
        filter = and(filter, any);
    }
    if let Some(f) = q.get("filter").filter(|v| !v.is_empty()) {
        let c = jsonlogic::parse(f, &field).map_err(|e| bad("filter", e.to_string()))?;
        filter = and(filter, c);
    }
    let mut sorts = match q.get("sort") {
        Some(s) => sort(s)?,
        None => Vec::new(),
    };
    let first = (!sorts.is_empty()).then(|| sorts.remove(0));
    let query = UserQuery {
        filter,
        sort: first,
        then_sort: sorts,
        page: PageRequest {
            start_index: (page - 1).saturating_mul(size).saturating_add(1),
            count: size,
        },
        ..Default::default()
    };
    Ok((query, page, size))
}

/// The group seq of the organization the request is in (`X-Organization`, `org`, then
/// `org_id`); `None` for none (an empty `org` too); 404 for one that does not exist.
pub async fn organization(
    state: &AppState,
    headers: &HeaderMap,
    q: &QueryPairs,
) -> Result<Option<i64>, ApiError> {
    let header = headers
        .get("x-organization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let not_found = || ApiError::new(Kind::NotFound, "Organization not found.");
    let key = match (header, q.get("org"), q.get("org_id")) {
        (Some(h), _, _) if !h.is_empty() => OrgKey::Slug(h),
        (_, Some(s), _) if !s.is_empty() => OrgKey::Slug(s),
        (_, Some(_), _) | (Some(_), None, None) => return Ok(None),
        (_, None, Some(id)) if !id.is_empty() => OrgKey::Seq(
            id.parse()
                .map_err(|_| bad("org_id", "A valid integer is required."))?,
        ),
        _ => return Ok(None),
    };
    if let OrgKey::Slug(s) = key {
        if roster_core::group::validate_slug(s).is_err() {
            return Err(not_found());
        }
    }
    let org = state.store.org(key).await?.ok_or_else(not_found)?;
    Ok(Some(org.seq))
}
