//! List and search requests: the query-string form (GET) and the SearchRequest body form
//! (POST `.search`, RFC 7644 §3.4.3) parse into one [`ListRequest`].

use roster_core::schema::{resolve, resolve_sort, Cond, Resource, Sort};
use roster_core::{filter::parse_filter, PageRequest};
use serde_json::Value;

use super::projection::Projection;
use crate::http::extract::QueryPairs;
use crate::http::ApiError;
use crate::scim_resource::{message, page};

pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[derive(Debug, Default)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub page: PageRequest,
    pub projection: Projection,
}

impl ListRequest {
    pub fn from_query(q: &QueryPairs) -> Result<Self, ApiError> {
        Ok(Self {
            filter: q.get("filter").map(str::to_owned),
            sort_by: q.get("sortBy").map(str::to_owned),
            sort_order: q.get("sortOrder").map(str::to_owned),
            page: page(q, super::DEFAULT_COUNT)?,
            projection: Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?,
        })
    }

    pub fn from_search(body: &Value) -> Result<Self, ApiError> {
        let o = message(body, SEARCH_URN, "SearchRequest")?;
        let text = |k: &str| -> Result<Option<String>, ApiError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid_value(format!("{k} must be a string"))),
            }
        };
        let int = |k: &str| -> Result<Option<String>, ApiError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(ApiError::invalid_value(format!("{k} must be an integer"))),
            }
        };
        let list = |k: &str| -> Result<Vec<String>, ApiError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(s.split(',').map(str::to_owned).collect()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ApiError::invalid_value(format!("{k} must be an array of strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ApiError::invalid_value(format!(
                    "{k} must be an array of strings"
                ))),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            page: PageRequest::parse(
                int("startIndex")?.as_deref(),
                int("count")?.as_deref(),
                super::DEFAULT_COUNT,
            )?,
            projection: Projection::from_lists(&list("attributes")?, &list("excludedAttributes")?)?,
        })
    }

    pub fn cond(&self, res: Resource) -> Result<Option<Cond>, ApiError> {
        Ok(self
            .filter
            .as_deref()
            .map(|f| parse_filter(f).and_then(|f| resolve(res, &f)))
            .transpose()?)
    }

    pub fn sort(&self, res: Resource) -> Result<Option<Sort>, ApiError> {
        Ok(self
            .sort_by
            .as_deref()
            .map(|s| resolve_sort(res, s, self.sort_order.as_deref()))
            .transpose()?)
    }
}
