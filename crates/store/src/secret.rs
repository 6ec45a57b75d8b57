//! Client secrets, stored hashed: PBKDF2-HMAC-SHA256 with a random salt, written as
//! `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64). Verification is constant-time. Both are
//! deliberately slow; call them off the async runtime's threads where latency matters.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use partner_center_domain::seed::{self, CheckedSecret};
use partner_center_model::{ClientId, Fixture, TenantId};

use crate::StoreError;

const SCHEME: &str = "pbkdf2-sha256";
const ITERATIONS: u32 = 100_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// Hashes `secret` with a fresh random salt.
///
/// # Panics
///
/// When the operating system's random generator fails.
#[must_use]
pub fn hash(secret: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .expect("the system random generator works");
    let iterations = NonZeroU32::new(ITERATIONS).expect("non-zero");
    let mut out = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        secret.as_bytes(),
        &mut out,
    );
    format!(
        "{SCHEME}${ITERATIONS}${}${}",
        B64.encode(salt),
        B64.encode(out)
    )
}

/// Whether `secret` matches a hash made by [`hash`]. A malformed hash matches nothing.
#[must_use]
pub fn verify(stored: &str, secret: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse::<u32>().ok().and_then(NonZeroU32::new),
        B64.decode(salt),
        B64.decode(expected),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        secret.as_bytes(),
        &expected,
    )
    .is_ok()
}

/// Checks a fixture's client secrets against the hashes stored for its applications (`stored`,
/// read before), and hashes those that do not match, on the blocking pool: PBKDF2 never runs on the
/// async runtime's threads, nor inside a write transaction (on SQLite's single writer it would hold
/// up every other write). A secret that matches keeps its stored hash.
///
/// # Errors
///
/// [`StoreError::Unavailable`] when the blocking pool cannot run the work.
pub async fn check_fixture(
    fixture: Arc<Fixture>,
    stored: HashMap<(TenantId, ClientId), String>,
) -> Result<HashMap<(TenantId, ClientId), CheckedSecret>, StoreError> {
    tokio::task::spawn_blocking(move || {
        seed::applications(&fixture)
            .map(|(id, secret)| {
                let matched = stored.get(&id).filter(|hash| verify(hash, secret)).cloned();
                let hash = matched.clone().unwrap_or_else(|| hash(secret));
                (id, CheckedSecret { matched, hash })
            })
            .collect()
    })
    .await
    .map_err(|e| StoreError::Unavailable(format!("cannot check client secrets: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only_and_never_contains_it() {
        let stored = hash("s3cret-value");
        assert!(stored.starts_with("pbkdf2-sha256$100000$"));
        assert!(!stored.contains("s3cret"));
        assert!(verify(&stored, "s3cret-value"));
        assert!(!verify(&stored, "s3cret-valuE"));
        assert!(!verify(&stored, ""));
        assert_ne!(hash("s3cret-value"), stored, "salted");
        assert!(!verify("plain", "plain"));
        assert!(!verify("pbkdf2-sha256$0$AA$AA", ""));
    }
}
