//! Discovery, public: the keys that verify Roster's tokens (RFC 7517 JWKS, OKP keys of
//! RFC 8037) and the provider metadata (RFC 8414 / OpenID Connect Discovery) naming the
//! endpoints that exist, and only those.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::http::body::json_response;
use crate::http::ApiError;

fn public_json(body: Value, max_age: &'static str) -> Response {
    let mut res = json_response(StatusCode::OK, &body);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    res
}

#[utoipa::path(get, path = "/jwks.json", security(()),
    description = "The public keys that verify Roster's access tokens (Ed25519, `alg: EdDSA`), \
        including retired keys whose tokens may not have expired yet.",
    responses((status = 200, description = "A JWK Set", body = Value)))]
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = state.tokens.public_keys(state.store.as_ref()).await?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"kty": "OKP", "crv": "Ed25519", "x": k.public_x, "kid": k.kid,
                   "alg": "EdDSA", "use": "sig"})
        })
        .collect();
    // Short: a rotated key must reach verifiers before its first token does.
    Ok(public_json(json!({"keys": keys}), "public, max-age=60"))
}

#[utoipa::path(get, path = "/openid-configuration", security(()),
    description = "Provider metadata: the issuer, the token, revocation and introspection \
        endpoints, the JWKS, the grants and client authentication methods supported.",
    responses((status = 200, description = "The metadata", body = Value)))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let base = &state.public_url;
    public_json(
        json!({
            "issuer": state.tokens.issuer(),
            "token_endpoint": format!("{base}/oauth/token"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "introspection_endpoint": format!("{base}/oauth/introspect"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "grant_types_supported": ["client_credentials", "password", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
            "scopes_supported": super::token::SCOPES,
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        }),
        "public, max-age=300",
    )
}
