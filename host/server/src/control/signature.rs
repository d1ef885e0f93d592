//! Signed webhooks, both ways: HR systems sign what they POST to
//! `/hooks/{integration}`, hrsync signs the notifications it sends. The
//! header is `X-Hrsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`; the time in the signature stops replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-hrsync-signature";

/// How far a signature's time may be from ours.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hrsync-Signature header is missing")]
    Missing,
    #[error("the X-Hrsync-Signature header is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the signature is older or newer than {TOLERANCE_SECS} seconds")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", crate::vault::to_hex(&tag))
}

/// Checks a header value against `body`, in constant time.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now_secs: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut timestamp, mut tag) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => tag = crate::vault::from_hex(value),
            _ => {}
        }
    }
    let (timestamp, tag) = timestamp.zip(tag).ok_or(SignatureError::Malformed)?;
    // abs_diff: a timestamp near i64::MIN or MAX must not overflow.
    if now_secs.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently, with Python's `hmac`:
    /// `hmac.new(b"whsig_3f9a1c", b"1700000000." + body, hashlib.sha256).hexdigest()`.
    #[test]
    fn signatures_match_an_independent_hmac() {
        let body = br#"{"event":"run.failed","run":"run_1"}"#;
        let expected = "0660a86bd7db88e1b15123c3cbdac2448baf049fd94ad7e1999a8b779218beec";
        assert_eq!(
            sign(b"whsig_3f9a1c", 1_700_000_000, body),
            format!("t=1700000000,v1={expected}")
        );
        let header = format!("t=1700000000,v1={expected}");
        assert_eq!(verify(b"whsig_3f9a1c", Some(&header), body, 1_700_000_100), Ok(()));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for t in [i64::MIN, i64::MAX, -1] {
            let header = sign(b"whsec", t, b"{}");
            assert_eq!(
                verify(b"whsec", Some(&header), b"{}", 1_700_000_000),
                Err(SignatureError::Stale)
            );
        }
        let header = "t=99999999999999999999999,v1=00";
        assert_eq!(
            verify(b"whsec", Some(header), b"{}", 1_700_000_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn signatures_check_body_secret_and_time() {
        let header = sign(b"whsec", 1_000, b"{\"a\":1}");
        assert_eq!(verify(b"whsec", Some(&header), b"{\"a\":1}", 1_010), Ok(()));
        assert_eq!(
            verify(b"whsec", Some(&header), b"{\"a\":2}", 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header), b"{\"a\":1}", 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec", Some(&header), b"{\"a\":1}", 2_000),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(b"whsec", None, b"", 0), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"whsec", Some("sha256=abc"), b"", 0),
            Err(SignatureError::Malformed)
        );
    }
}
