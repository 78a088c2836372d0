//! `x-request-id`: the client's own when it is a sane token, else one of ours. It is echoed
//! on the response, names the request's log span and goes into its audit rows.

use axum::http::{HeaderName, HeaderValue, Request};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen request id kept; anything longer (or not visible ASCII) is replaced.
pub const MAX_LEN: usize = 128;

fn acceptable(v: &HeaderValue) -> Option<&str> {
    let b = v.as_bytes();
    let visible = !b.is_empty() && b.len() <= MAX_LEN && b.iter().all(|c| c.is_ascii_graphic());
    visible.then(|| v.to_str().ok()).flatten()
}

/// On a request whose client sent a non-empty `x-request-id` (dialects that require one
/// look for it: the header itself is always there after [`ensure`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientRequestId;

/// Makes sure the request has exactly one acceptable id (for `tower::util::MapRequestLayer`).
pub fn ensure<B>(mut req: Request<B>) -> Request<B> {
    if req
        .headers()
        .get_all(&HEADER)
        .iter()
        .any(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        req.extensions_mut().insert(ClientRequestId);
    }
    let mut ids = req.headers().get_all(&HEADER).iter();
    let kept = match (ids.next().and_then(acceptable), ids.next()) {
        (Some(_), None) => Some(()),
        _ => None,
    };
    if kept.is_none() {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        if let Ok(v) = HeaderValue::from_str(&id) {
            req.headers_mut().insert(HEADER, v);
        }
    }
    req
}

/// The id [`ensure`] left on the request.
pub fn of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(values: &[&[u8]]) -> String {
        let mut req = Request::new(());
        for v in values {
            req.headers_mut()
                .append(HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        of(ensure(req).headers()).unwrap().to_owned()
    }

    #[test]
    fn keeps_sane_ids_and_replaces_the_rest() {
        assert_eq!(id_of(&[b"abc-123"]), "abc-123");
        let long = "x".repeat(MAX_LEN + 1);
        for bad in [long.as_bytes(), b"has space", b"caf\xc3\xa9", b""] {
            let got = id_of(&[bad]);
            assert!(uuid::Uuid::parse_str(&got).is_ok(), "{bad:?} -> {got}");
        }
        assert!(uuid::Uuid::parse_str(&id_of(&[b"a", b"b"])).is_ok());
        assert!(uuid::Uuid::parse_str(&id_of(&[])).is_ok());
    }
}
