//! The request of an OAuth endpoint: an `application/x-www-form-urlencoded` body (RFC 6749
//! §3.2: parameters sent once, unknown ones ignored) and the client's credentials, from
//! HTTP Basic or from the body (§2.3.1), never both.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::http::ApiError;

/// Longest parameter value: the longest legitimate one (a refresh token, an email) is a
/// few hundred characters.
const MAX_VALUE: usize = 4096;
/// Most parameters in one request.
const MAX_PARAMS: usize = 32;

pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, ApiError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::invalid_syntax(
                "the body must be application/x-www-form-urlencoded (RFC 6749 §4)",
            ));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(ApiError::invalid_syntax("the body is not UTF-8"));
        }
        let mut out = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if out.len() >= MAX_PARAMS {
                return Err(ApiError::invalid_syntax("too many parameters"));
            }
            if v.len() > MAX_VALUE || k.len() > 64 {
                return Err(ApiError::invalid_syntax(format!(
                    "parameter {:?} is longer than {MAX_VALUE} characters",
                    truncate(&k)
                )));
            }
            if out.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::invalid_syntax(format!(
                    "parameter {:?} is sent more than once",
                    truncate(&k)
                )));
            }
        }
        Ok(Self(out))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid_syntax(format!("the {name} parameter is missing")))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Client credentials as presented.
pub struct ClientAuth {
    pub client_id: String,
    pub secret: String,
}

fn bad_client(detail: &str) -> ApiError {
    ApiError::unauthenticated(format!("client authentication failed: {detail}"))
}

/// The client's credentials from HTTP Basic or the body; `None` when neither is present.
pub fn client_auth(headers: &HeaderMap, form: &Form) -> Result<Option<ClientAuth>, ApiError> {
    let basic = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| {
            let v = v.to_str().ok()?.trim();
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        })
        .collect::<Vec<_>>();
    let in_body = (form.get("client_id"), form.get("client_secret"));
    match (basic.as_slice(), in_body) {
        ([], (None, None)) => Ok(None),
        ([], (Some(id), Some(secret))) => Ok(Some(ClientAuth {
            client_id: id.to_owned(),
            secret: secret.to_owned(),
        })),
        ([], (Some(_), None)) => Err(bad_client("client_secret is missing")),
        ([], (None, Some(_))) => Err(ApiError::invalid_syntax("client_id is missing")),
        ([one], (body_id, None)) => {
            let c = decode_basic(one)?;
            if body_id.is_some_and(|id| id != c.client_id) {
                return Err(ApiError::invalid_syntax(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(Some(c))
        }
        ([_], (_, Some(_))) => Err(ApiError::invalid_syntax(
            "the client authenticates with HTTP Basic or with client_secret in the body, not both",
        )),
        _ => Err(ApiError::invalid_syntax(
            "the Authorization header is sent more than once",
        )),
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(b64: &str) -> Result<ClientAuth, ApiError> {
    if b64.len() > 2 * MAX_VALUE {
        return Err(bad_client("the Basic credentials are too long"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| bad_client("the Basic credentials are not base64"))?;
    let text =
        String::from_utf8(raw).map_err(|_| bad_client("the Basic credentials are not UTF-8"))?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(|| bad_client("the Basic credentials have no ':'"))?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    if id.is_empty() || secret.is_empty() {
        return Err(bad_client("the Basic credentials are empty"));
    }
    Ok(ClientAuth {
        client_id: id,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn forms_and_client_credentials() {
        let h = headers(None);
        let f = Form::parse(
            &h,
            &Bytes::from("grant_type=client_credentials&client_id=a&client_secret=b%2Bc"),
        )
        .unwrap();
        let c = client_auth(&h, &f).unwrap().unwrap();
        assert_eq!((c.client_id.as_str(), c.secret.as_str()), ("a", "b+c"));
        assert!(Form::parse(&h, &Bytes::from("a=1&a=2")).is_err());
        assert!(Form::parse(&h, &Bytes::from(format!("a={}", "x".repeat(5000)))).is_err());
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(Form::parse(&json, &Bytes::from("{}")).is_err());
        // Basic: percent-encoded parts; both Basic and a body secret is refused.
        let b = STANDARD.encode("my%20id:s%3Acret");
        let h = headers(Some(&format!("Basic {b}")));
        let f = Form::parse(&h, &Bytes::from("grant_type=client_credentials")).unwrap();
        let c = client_auth(&h, &f).unwrap().unwrap();
        assert_eq!(
            (c.client_id.as_str(), c.secret.as_str()),
            ("my id", "s:cret")
        );
        let f = Form::parse(&h, &Bytes::from("client_secret=x")).unwrap();
        assert!(client_auth(&h, &f).is_err());
        for bad in ["Basic !!!", "Basic Zm9v", "Basic Og=="] {
            let h = headers(Some(bad));
            let f = Form::parse(&h, &Bytes::new()).unwrap();
            assert!(client_auth(&h, &f).is_err(), "{bad}");
        }
    }
}
