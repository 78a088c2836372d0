//! Passwords (argon2id) and API tokens (random, stored as SHA-256 only).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::CoreError;

/// Public prefix of every token Roster mints; it makes leaked tokens easy to grep for.
pub const TOKEN_PREFIX: &str = "rst_";
/// Characters of a token kept in clear as its public, non-secret label.
pub const TOKEN_LABEL_LEN: usize = 12;

/// Hashes a password with argon2id (OWASP parameters: the crate's defaults, m=19 MiB, t=2).
pub fn hash_password(password: &str) -> Result<String, CoreError> {
    if password.is_empty() {
        return Err(CoreError::invalid_value("password must not be empty"));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A freshly minted token: the secret is shown once, only `hash` and `label` are stored.
pub struct NewToken {
    pub secret: String,
    pub label: String,
    pub hash: String,
}

/// 32 random bytes (256 bits), URL-safe base64, behind the public prefix.
pub fn generate_token() -> NewToken {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    from_secret(secret)
}

/// Wraps an operator-chosen secret (the bootstrap token) the same way.
pub fn from_secret(secret: String) -> NewToken {
    let label: String = secret.chars().take(TOKEN_LABEL_LEN).collect();
    let hash = hash_token(&secret);
    NewToken {
        secret,
        label,
        hash,
    }
}

/// SHA-256, hex. A fast hash is right here: tokens carry 256 bits of entropy, unlike
/// passwords, so there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_roundtrip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
    }

    #[test]
    fn tokens_are_unique_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX) && a.secret.len() >= 40);
        assert_eq!(a.hash, hash_token(&a.secret));
        assert!(ct_eq(&a.hash, &hash_token(&a.secret)));
        assert!(!a.hash.contains(&a.secret));
    }
}
