//! OAuth access tokens: JWTs signed with Ed25519 (JWS `alg: EdDSA`), through `jsonwebtoken`.
//! This module only signs and checks signatures and claims; which keys exist, and whether the
//! token's user and client still do, is the server's business.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Seconds of clock difference between nodes tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: u64 = 30;

/// Longest token worth parsing: a Roster JWT is about 400 characters.
pub const MAX_JWT_LEN: usize = 2048;

/// The claims of a Roster access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The public URL of the issuing server.
    pub iss: String,
    /// The user's SCIM id.
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// An Ed25519 signing key: what the database keeps of it (its public half, and the private
/// half as PKCS#8 DER to be sealed) and what signs with it.
pub struct KeyPair {
    pub kid: String,
    /// The public key, base64url without padding (the JWK's `x`).
    pub public_x: String,
    encoding: EncodingKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.kid)
    }
}

/// Why a token was refused. The resource routes answer 401 whatever the reason; the
/// reason goes to the debug log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWT")]
    Malformed,
    #[error("the token names no key this server has (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

impl KeyPair {
    /// A new random key; returns it with its private half as PKCS#8 DER (to be sealed).
    pub fn generate(kid: String) -> Result<(Self, Vec<u8>), String> {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| format!("cannot encode a signing key: {e}"))?
            .as_bytes()
            .to_vec();
        let public_x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        Ok((Self::from_der(kid, public_x, &der), der))
    }

    /// The key as stored: its id, public half, and private half (PKCS#8 DER).
    pub fn from_der(kid: String, public_x: String, der: &[u8]) -> Self {
        Self {
            kid,
            public_x,
            encoding: EncodingKey::from_ed_der(der),
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| format!("cannot sign a token: {e}"))
    }
}

/// A public key that verifies tokens.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: String,
    pub public_x: String,
    decoding: DecodingKey,
}

impl VerifyingKey {
    pub fn new(kid: String, public_x: String) -> Result<Self, String> {
        let decoding = DecodingKey::from_ed_components(&public_x)
            .map_err(|e| format!("signing key {kid}: bad public key: {e}"))?;
        Ok(Self {
            kid,
            public_x,
            decoding,
        })
    }
}

/// Whether `token` has the shape of a JWS compact serialisation (three base64url parts, the
/// first a JSON object): decides between a JWT and an opaque API token.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let header = parts.next().unwrap_or("");
    // `{"` in base64url is `eyJ` (or `eyA`/`ewo` for whitespace, which no issuer emits).
    header.starts_with("eyJ") && parts.count() == 2
}

/// The `kid` of a token's header, before its signature is checked (to pick the key).
pub fn kid_of(token: &str) -> Result<Option<String>, JwtError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(JwtError::Invalid(format!(
            "alg {:?} is not accepted (only EdDSA)",
            header.alg
        )));
    }
    Ok(header.kid)
}

/// Checks the signature with `key`, the algorithm (EdDSA only: `none` and HMAC are
/// refused), `exp` (with [`LEEWAY_SECS`]) and `iss`.
pub fn verify(token: &str, key: &VerifyingKey, issuer: &str) -> Result<Claims, JwtError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::Malformed);
    }
    let mut v = Validation::new(Algorithm::EdDSA);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    v.validate_aud = false;
    jsonwebtoken::decode::<Claims>(token, &key.decoding, &v)
        .map(|d| d.claims)
        .map_err(|e| JwtError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: "http://roster.test".into(),
            sub: "u1".into(),
            client_id: "c1".into(),
            scope: "roster".into(),
            iat: now,
            exp: now + exp_in,
            jti: "j1".into(),
        }
    }

    #[test]
    fn signs_and_verifies_with_its_own_key_only() {
        let (pair, der) = KeyPair::generate("k1".into()).unwrap();
        let again = KeyPair::from_der("k1".into(), pair.public_x.clone(), &der);
        let token = again.sign(&claims(60)).unwrap();
        assert!(looks_like_jwt(&token));
        assert_eq!(kid_of(&token).unwrap().as_deref(), Some("k1"));
        let key = VerifyingKey::new("k1".into(), pair.public_x.clone()).unwrap();
        assert_eq!(
            verify(&token, &key, "http://roster.test").unwrap(),
            claims(60)
        );
        // Another issuer, another key, an expired token, an altered payload: refused.
        assert!(verify(&token, &key, "http://other").is_err());
        let (other, _) = KeyPair::generate("k1".into()).unwrap();
        let other_key = VerifyingKey::new("k1".into(), other.public_x).unwrap();
        assert!(verify(&token, &other_key, "http://roster.test").is_err());
        let old = pair.sign(&claims(-(LEEWAY_SECS as i64) - 5)).unwrap();
        assert!(verify(&old, &key, "http://roster.test").is_err());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"http://roster.test","sub":"admin","client_id":"c1","scope":"roster","iat":1,"exp":99999999999,"jti":"x"}"#);
        parts[1] = &forged;
        assert!(verify(&parts.join("."), &key, "http://roster.test").is_err());
    }

    #[test]
    fn refuses_alg_none_and_garbage() {
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        let token = format!("{none_header}.{body}.");
        assert!(looks_like_jwt(&token));
        assert!(kid_of(&token).is_err());
        let hs = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k1"}"#);
        assert!(matches!(
            kid_of(&format!("{hs}.{body}.c2ln")),
            Err(JwtError::Invalid(_))
        ));
        assert!(!looks_like_jwt("rst_abc"));
        assert!(!looks_like_jwt("eyJhbGci"));
        assert_eq!(kid_of("eyJ.x.y"), Err(JwtError::Malformed));
        assert_eq!(kid_of(&"a".repeat(5000)), Err(JwtError::Malformed));
    }
}
