//! TOTP second factors (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, the authenticator
//! apps' defaults): new secrets and their `otpauth://` URI and QR code, code checks with one
//! step of clock drift either way, and recovery codes.
//!
//! The secret is sealed with the server key under [`roster_store::totp_record`] (it must be
//! read again to check codes); recovery codes are kept as SHA-256 hashes only.

use roster_core::sealed::ServerKey;
use roster_core::secret;
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP: u64 = 30;
/// Codes of the previous and next step are accepted too (clocks drift, people type slowly).
const SKEW: u8 = 1;
/// Recovery codes per enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A secret of 160 bits (RFC 4226's recommendation), as base32 without padding.
pub fn new_secret() -> String {
    Secret::Raw(secret::random_bytes(20))
        .to_encoded()
        .to_string()
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let raw = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    Some(TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        SKEW,
        STEP,
        raw,
    ))
}

/// What an authenticator app scans: `otpauth://totp/<issuer>:<account>?secret=…`.
pub fn uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// The URI as an inline SVG QR code (no script, no image fetch: fits the console's CSP).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// The time step `code` is valid for at `now` (seconds since the epoch), if it is valid.
/// The caller must still refuse a step at or before the last one used (a replay).
pub fn check(secret_b32: &str, code: &str, now: u64) -> Option<i64> {
    let code = code.trim().replace([' ', '-'], "");
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32)?;
    let here = now / STEP;
    // Newest first, so a code valid for two steps is recorded at the later one.
    for step in [here + 1, here, here.saturating_sub(1)] {
        let expected = t.generate(step * STEP);
        if secret::ct_eq(&expected, &code) {
            return i64::try_from(step).ok();
        }
    }
    None
}

/// The code for `now` (tests and the CLI).
pub fn code_at(secret_b32: &str, now: u64) -> Option<String> {
    Some(totp(secret_b32)?.generate(now))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seals a secret for the user numbered `user_seq`.
pub fn seal(key: &ServerKey, user_seq: i64, secret_b32: &str) -> String {
    key.seal(&roster_store::totp_record(user_seq), secret_b32.as_bytes())
}

/// The secret of a sealed record, if the server key opens it.
pub fn open(key: &ServerKey, user_seq: i64, sealed: &str) -> Option<String> {
    let plain = key
        .open(&roster_store::totp_record(user_seq), sealed)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// New recovery codes (`xxxxx-xxxxx`, 50 bits each) and their hashes.
pub fn recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let s = secret::random_base32(10);
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored hash of a recovery code as a person may type it (any case, with or without
/// the dash or spaces).
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    secret::hash_token(&format!("recovery:{norm}"))
}

/// Whether what was typed looks like a recovery code rather than a TOTP code.
pub fn looks_like_recovery(code: &str) -> bool {
    code.chars().filter(char::is_ascii_alphanumeric).count() == 10
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B (SHA-1, 8 digits there; the last 6 digits here).
    #[test]
    fn rfc6238_vectors() {
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        for (t, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(&secret, t).as_deref(), Some(code), "t = {t}");
            assert_eq!(check(&secret, code, t), Some((t / 30) as i64));
        }
    }

    #[test]
    fn drift_of_one_step_only() {
        let s = new_secret();
        let now = 1_700_000_000;
        let c = code_at(&s, now).unwrap();
        assert!(check(&s, &c, now + 30).is_some());
        assert!(check(&s, &c, now - 30).is_some());
        assert!(check(&s, &c, now + 60).is_none());
        assert!(check(&s, "12345", now).is_none());
        assert!(check(&s, "abcdef", now).is_none());
    }

    #[test]
    fn recovery_codes_hash_as_typed() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(
            recovery_hash(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
        assert_ne!(hashes[0], hashes[1]);
        assert!(looks_like_recovery(&codes[3]));
        assert!(!looks_like_recovery("123456"));
    }

    #[test]
    fn uri_and_qr() {
        let u = uri("JBSWY3DPEHPK3PXP", "Roster", "ana lopez@example.com");
        assert!(u.starts_with(
            "otpauth://totp/Roster:ana%20lopez%40example.com?secret=JBSWY3DPEHPK3PXP"
        ));
        let svg = qr_svg(&u).unwrap();
        assert!(svg.contains("<svg"));
    }
}
