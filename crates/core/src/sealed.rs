//! The server key, and what it seals: secrets Roster must show again (OAuth client
//! secrets, signing keys, S3 secret keys) are kept encrypted with XChaCha20-Poly1305 under
//! one 256-bit key, each bound to its record (the record's id is the associated data), so a
//! sealed value copied onto another record does not open.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// Prefix of a sealed value: the format's version.
const V1: &str = "v1.";
const NONCE_LEN: usize = 24;

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed value")]
    Malformed,
    /// Another key sealed it, or it was sealed for another record, or it was altered.
    #[error("the value does not open with this key for this record")]
    WrongKey,
}

/// The 256-bit server key. Its bytes never leave this type (no `Debug`, no accessor).
#[derive(Clone)]
pub struct ServerKey {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKey({})", self.fingerprint)
    }
}

impl ServerKey {
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)),
            // Names the key in logs and errors without giving any of it away.
            fingerprint: digest.iter().take(4).map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// A new random key and its text form (what a key file holds).
    pub fn generate() -> (Self, String) {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        (Self::from_bytes(&bytes), STANDARD.encode(bytes))
    }

    /// Reads a key's text form: 32 bytes in base64 (standard or URL-safe, padded or not) or
    /// in hex (64 digits); surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let decoded = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| {
                    t.get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
        } else {
            STANDARD
                .decode(t)
                .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
                .ok()
        };
        let bytes: [u8; 32] = decoded.and_then(|v| v.try_into().ok()).ok_or_else(|| {
            "a server key is 32 bytes, written as base64 (44 characters) or hex (64 digits); \
                 `roster secrets generate` prints one"
                .to_owned()
        })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Names the key (the first 4 bytes of its SHA-256) in logs and messages.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `plain` for the record `record` (its table and id, e.g. `oauth_client:42`).
    pub fn seal(&self, record: &str, plain: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain,
            aad: record.as_bytes(),
        };
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{V1}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`ServerKey::seal`] sealed for the same record.
    pub fn open(&self, record: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let raw = sealed
            .strip_prefix(V1)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(SealError::Malformed)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: record.as_bytes(),
        };
        self.cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SealError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_for_one_record_only() {
        let (k, text) = ServerKey::generate();
        let sealed = k.seal("oauth_client:1", b"secret");
        assert!(!sealed.contains("secret"));
        assert_eq!(k.open("oauth_client:1", &sealed).unwrap(), b"secret");
        // Another record, another key, an altered value: none opens.
        assert_eq!(k.open("oauth_client:2", &sealed), Err(SealError::WrongKey));
        let (other, _) = ServerKey::generate();
        assert_eq!(
            other.open("oauth_client:1", &sealed),
            Err(SealError::WrongKey)
        );
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(k.open("oauth_client:1", &altered).is_err());
        assert_eq!(k.open("x", "nonsense"), Err(SealError::Malformed));
        assert_eq!(k.open("x", "v1.AAAA"), Err(SealError::Malformed));
        // Two seals of one value differ (a fresh nonce each time).
        assert_ne!(k.seal("r", b"same"), k.seal("r", b"same"));
        // The text form reads back as the same key.
        let again = ServerKey::parse(&format!("  {text}\n")).unwrap();
        assert_eq!(again.fingerprint(), k.fingerprint());
        assert_eq!(again.open("oauth_client:1", &sealed).unwrap(), b"secret");
    }

    #[test]
    fn key_text_forms() {
        let hex = "00".repeat(32);
        let a = ServerKey::parse(&hex).unwrap();
        let b = ServerKey::parse(&STANDARD.encode([0u8; 32])).unwrap();
        let c = ServerKey::parse(&URL_SAFE_NO_PAD.encode([0u8; 32])).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(b.fingerprint(), c.fingerprint());
        for bad in ["", "short", &"00".repeat(31), &STANDARD.encode([0u8; 31])] {
            assert!(ServerKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{a:?}").contains("0000000000"));
    }
}
