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

/// Longest password accepted: argon2id's cost does not depend on it, but a 2 MB password
/// is nobody's, and the bound keeps every input bounded.
pub const MAX_PASSWORD_LEN: usize = 256;

/// The one password policy, applied everywhere a password is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (`ROSTER_PASSWORD_MIN_LENGTH`).
    pub min_len: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_len: 12 }
    }
}

/// Why a password is refused, for callers that word it themselves (the account pages, in
/// the user's language).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// The account's own userName or one of its emails.
    OwnName,
}

impl std::fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "password must have at least {min} characters"),
            Self::TooLong { max } => write!(f, "password must have at most {max} characters"),
            Self::OwnName => f.write_str("password must not be the account's userName or email"),
        }
    }
}

impl PasswordPolicy {
    fn length_problem(&self, password: &str) -> Option<PasswordProblem> {
        let n = password.chars().count();
        if n < self.min_len {
            Some(PasswordProblem::TooShort { min: self.min_len })
        } else if n > MAX_PASSWORD_LEN {
            Some(PasswordProblem::TooLong {
                max: MAX_PASSWORD_LEN,
            })
        } else {
            None
        }
    }

    /// Length only (what can be checked before the account is known).
    pub fn check_length(&self, password: &str) -> Result<(), CoreError> {
        match self.length_problem(password) {
            Some(p) => Err(CoreError::invalid_value(p.to_string())),
            None => Ok(()),
        }
    }

    /// What is wrong with `password` for this account, if anything: its length, or that it
    /// is the account's own login or email.
    pub fn problem(
        &self,
        password: &str,
        user_name: &str,
        emails: &[crate::Email],
    ) -> Option<PasswordProblem> {
        if let Some(p) = self.length_problem(password) {
            return Some(p);
        }
        let pw = crate::user::fold(password);
        let own = |v: &str| crate::user::fold(v) == pw;
        (own(user_name) || emails.iter().any(|e| own(&e.value))).then_some(PasswordProblem::OwnName)
    }

    /// Length, and not the account's own login or email.
    pub fn check(
        &self,
        password: &str,
        user_name: &str,
        emails: &[crate::Email],
    ) -> Result<(), CoreError> {
        match self.problem(password, user_name, emails) {
            Some(p) => Err(CoreError::invalid_value(p.to_string())),
            None => Ok(()),
        }
    }
}

/// Hashes a password with argon2id (OWASP parameters: the crate's defaults, m=19 MiB, t=2).
/// Policy checks are the caller's ([`PasswordPolicy`]); this only refuses nothing at all.
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

/// A freshly minted token: the secret is shown once, only `hash` and `public_id` are
/// stored; the public id names the token in listings and the audit log and says nothing of
/// the secret.
pub struct NewToken {
    pub secret: String,
    pub public_id: String,
    pub hash: String,
}

/// Shortest token secret accepted from an operator (the bootstrap token): 32 characters.
pub const MIN_TOKEN_LEN: usize = 32;

/// 32 random bytes (256 bits), URL-safe base64, behind the public prefix.
pub fn generate_token() -> NewToken {
    from_secret(random_secret(TOKEN_PREFIX))
}

/// `prefix` and 256 random bits in URL-safe base64: every secret Roster mints (API tokens,
/// client secrets, refresh tokens) has this shape.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// `n` bytes from the OS's generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `n` random lower-case base32 characters (5 bits each): readable public names.
pub fn random_base32(n: usize) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(b & 31)).copied().map(char::from))
        .collect()
}

/// Wraps an operator-chosen secret (the bootstrap token) the same way.
pub fn from_secret(secret: String) -> NewToken {
    let hash = hash_token(&secret);
    NewToken {
        secret,
        public_id: public_id(),
        hash,
    }
}

/// `tok_` and 12 random base32 characters (60 bits): unique enough to name a token, and
/// unrelated to its secret.
pub fn public_id() -> String {
    format!("tok_{}", random_base32(12))
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
