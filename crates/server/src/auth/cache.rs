//! Verified tokens, remembered until they expire so that a client reusing its token (as every SDK
//! does for an hour) costs one signature check, not one per request.
//!
//! Entries are keyed by the SHA-256 of the token, so the cache holds no token, and it is bounded:
//! past its capacity the least useful entries are evicted (quick_cache's CLOCK-Pro policy), which at
//! worst costs a signature check again.

use aws_lc_rs::digest;
use partner_center_model::Timestamp;

use super::VerifiedToken;

/// Tokens remembered at most.
const CAPACITY: usize = 10_000;

#[derive(Clone)]
struct Entry {
    token: VerifiedToken,
    /// The token's `exp` plus the tolerated skew, in milliseconds since the epoch.
    valid_until: i64,
}

/// The cache of verified tokens.
pub(super) struct TokenCache {
    entries: quick_cache::sync::Cache<[u8; 32], Entry>,
}

impl TokenCache {
    pub(super) fn new() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }

    pub(super) fn key(token: &str) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        key
    }

    /// The verified token for `key`, if it was verified and has not expired since.
    pub(super) fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<VerifiedToken> {
        let entry = self.entries.get(key)?;
        if entry.valid_until >= now.as_millis() {
            Some(entry.token)
        } else {
            self.entries.remove(key);
            None
        }
    }

    pub(super) fn insert(&self, key: [u8; 32], token: VerifiedToken, valid_until: Timestamp) {
        self.entries.insert(
            key,
            Entry {
                token,
                valid_until: valid_until.as_millis(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_it_expires_and_keyed_by_the_whole_token() {
        let cache = TokenCache::new();
        let token = VerifiedToken {
            tenant: partner_center_model::TenantId::new_random(),
            app_only: true,
            app_id: None,
        };
        let key = TokenCache::key("header.payload.signature");
        assert_ne!(key, TokenCache::key("header.payload.signaturf"));
        cache.insert(key, token.clone(), Timestamp::from_millis(2_000));
        assert_eq!(
            cache.get(&key, Timestamp::from_millis(1_999)),
            Some(token.clone())
        );
        assert_eq!(cache.get(&key, Timestamp::from_millis(2_000)), Some(token));
        assert_eq!(cache.get(&key, Timestamp::from_millis(2_001)), None);
        // An expired entry is dropped, not served later by a clock going back.
        assert_eq!(cache.get(&key, Timestamp::from_millis(1_000)), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::new();
        let token = VerifiedToken {
            tenant: partner_center_model::TenantId::new_random(),
            app_only: true,
            app_id: None,
        };
        for i in 0..(CAPACITY * 2) {
            cache.insert(
                TokenCache::key(&i.to_string()),
                token.clone(),
                Timestamp::from_millis(i64::MAX),
            );
        }
        assert!(cache.entries.len() <= CAPACITY, "{}", cache.entries.len());
    }
}
