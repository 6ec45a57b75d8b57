//! Verified tokens, remembered until they expire so that a client reusing its token (as every SDK
//! does for an hour) costs one signature check, not one per request.
//!
//! Entries are keyed by the SHA-256 of the token, so the cache holds no token, and it is bounded:
//! past its capacity the least useful entries are evicted (quick_cache's CLOCK-Pro policy), which at
//! worst costs a signature check again.
//!
//! Before it, each connection remembers the last token verified on it ([`ConnectionMemo`]): a client
//! sends the same token on its connection request after request, and comparing it costs far less
//! than hashing it. The memo lives (and holds the token) only as long as the connection.

use std::sync::Mutex;

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

    /// The verified token for `key` and until when it is valid, if it was verified and has not
    /// expired since.
    pub(super) fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<(VerifiedToken, i64)> {
        let entry = self.entries.get(key)?;
        if entry.valid_until >= now.as_millis() {
            Some((entry.token, entry.valid_until))
        } else {
            self.entries.remove(key);
            None
        }
    }

    pub(super) fn insert(&self, key: [u8; 32], token: VerifiedToken, valid_until: i64) {
        self.entries.insert(key, Entry { token, valid_until });
    }
}

/// The last token verified on one connection (see the module's documentation).
#[derive(Debug, Default)]
pub struct ConnectionMemo(Mutex<Option<Memo>>);

#[derive(Debug)]
struct Memo {
    /// The `Authorization` header value.
    header: Box<[u8]>,
    verified: VerifiedToken,
    valid_until: i64,
}

impl ConnectionMemo {
    /// What the token of this `Authorization` header value verified as, if it is the
    /// connection's last and has not expired since.
    pub(super) fn get(&self, header: &[u8], now: Timestamp) -> Option<VerifiedToken> {
        let memo = self.0.lock().ok()?;
        memo.as_ref()
            .filter(|m| *m.header == *header && m.valid_until >= now.as_millis())
            .map(|m| m.verified.clone())
    }

    pub(super) fn set(&self, header: &[u8], verified: VerifiedToken, valid_until: i64) {
        if let Ok(mut memo) = self.0.lock() {
            *memo = Some(Memo {
                header: header.into(),
                verified,
                valid_until,
            });
        }
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
        };
        let key = TokenCache::key("header.payload.signature");
        assert_ne!(key, TokenCache::key("header.payload.signaturf"));
        cache.insert(key, token.clone(), 2_000);
        assert_eq!(
            cache.get(&key, Timestamp::from_millis(1_999)),
            Some((token.clone(), 2_000))
        );
        assert_eq!(
            cache.get(&key, Timestamp::from_millis(2_000)),
            Some((token, 2_000))
        );
        assert_eq!(cache.get(&key, Timestamp::from_millis(2_001)), None);
        // An expired entry is dropped, not served later by a clock going back.
        assert_eq!(cache.get(&key, Timestamp::from_millis(1_000)), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::new();
        let token = VerifiedToken {
            tenant: partner_center_model::TenantId::new_random(),
        };
        for i in 0..(CAPACITY * 2) {
            cache.insert(TokenCache::key(&i.to_string()), token.clone(), i64::MAX);
        }
        assert!(cache.entries.len() <= CAPACITY, "{}", cache.entries.len());
    }

    #[test]
    fn a_connection_remembers_only_its_last_token_and_only_until_it_expires() {
        let memo = ConnectionMemo::default();
        let token = VerifiedToken {
            tenant: partner_center_model::TenantId::new_random(),
        };
        assert_eq!(memo.get(b"Bearer a.b.c", Timestamp::from_millis(0)), None);
        memo.set(b"Bearer a.b.c", token.clone(), 2_000);
        assert_eq!(
            memo.get(b"Bearer a.b.c", Timestamp::from_millis(2_000)),
            Some(token.clone())
        );
        assert_eq!(memo.get(b"Bearer a.b.d", Timestamp::from_millis(0)), None);
        assert_eq!(
            memo.get(b"Bearer a.b.c", Timestamp::from_millis(2_001)),
            None
        );
        memo.set(b"Bearer x.y.z", token.clone(), 5_000);
        assert_eq!(memo.get(b"Bearer a.b.c", Timestamp::from_millis(0)), None);
        assert_eq!(
            memo.get(b"Bearer x.y.z", Timestamp::from_millis(0)),
            Some(token)
        );
    }
}
