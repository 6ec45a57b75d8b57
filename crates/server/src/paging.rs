//! Continuation tokens of the customers list: opaque, bound to the partner they were given to, and
//! tamper-evident. A token is the position after which the next page starts, and an HMAC-SHA256
//! tag over it and the partner's tenant id, under a key the service keeps in its store (made once,
//! shared by every instance, kept across restarts); URL-safe base64. Another partner's token, an
//! edited one or garbage fails the tag and is refused, so no token ever reaches another partner's
//! customers. Positions only grow as customers are added, so pages never repeat or skip a
//! customer, even when customers are added between pages.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use partner_center_model::TenantId;
use partner_center_store::{RequestStore, StoreError};

/// The name of the key in the store.
const KEY_NAME: &str = "continuation-tokens";
/// The version of the token format.
const VERSION: u8 = 1;
/// Bytes of the tag kept in a token (128 bits).
const TAG_LEN: usize = 16;

/// Makes and reads continuation tokens.
pub(crate) struct Paging {
    key: hmac::Key,
}

impl std::fmt::Debug for Paging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paging").finish_non_exhaustive()
    }
}

impl Paging {
    /// The store's key, made now if it has none.
    ///
    /// # Errors
    ///
    /// A store failure, or no randomness for a new key.
    pub(crate) async fn load(store: &dyn RequestStore) -> Result<Self, StoreError> {
        let mut candidate = vec![0u8; 32];
        SystemRandom::new()
            .fill(&mut candidate)
            .map_err(|_| StoreError::Unavailable("no randomness for a key".into()))?;
        let key = store.service_key(KEY_NAME, candidate).await?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    fn tag(&self, partner: TenantId, position: i64) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(b"customers");
        context.update(partner.as_uuid().as_bytes());
        context.update(&[VERSION]);
        context.update(&position.to_be_bytes());
        context.sign()
    }

    /// The token of the page after `position`, for `partner`.
    pub(crate) fn token(&self, partner: TenantId, position: i64) -> String {
        let mut bytes = Vec::with_capacity(1 + 8 + TAG_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&position.to_be_bytes());
        bytes.extend_from_slice(&self.tag(partner, position).as_ref()[..TAG_LEN]);
        B64.encode(bytes)
    }

    /// The position a token of `partner` stands for; `None` when it is not one this service gave
    /// that partner.
    pub(crate) fn read(&self, partner: TenantId, token: &str) -> Option<i64> {
        let bytes = B64.decode(token.trim()).ok()?;
        let [version, rest @ ..] = bytes.as_slice() else {
            return None;
        };
        if *version != VERSION || rest.len() != 8 + TAG_LEN {
            return None;
        }
        let (position, tag) = rest.split_at(8);
        let position = i64::from_be_bytes(position.try_into().ok()?);
        let expected = self.tag(partner, position);
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..TAG_LEN], tag)
            .ok()?;
        Some(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging() -> Paging {
        Paging {
            key: hmac::Key::new(hmac::HMAC_SHA256, b"a key of the test, 32 bytes long!"),
        }
    }

    #[test]
    fn a_token_reads_back_for_its_partner_only() {
        let paging = paging();
        let (a, b) = (TenantId::new_random(), TenantId::new_random());
        let token = paging.token(a, 1234);
        assert_eq!(paging.read(a, &token), Some(1234));
        assert_eq!(paging.read(b, &token), None, "another partner's token");
        let other_key = Paging {
            key: hmac::Key::new(hmac::HMAC_SHA256, b"another key of another service!!"),
        };
        assert_eq!(other_key.read(a, &token), None, "another service's token");
    }

    #[test]
    fn an_edited_or_garbage_token_is_refused() {
        let paging = paging();
        let partner = TenantId::new_random();
        let token = paging.token(partner, 7);
        let mut bytes = B64.decode(&token).unwrap();
        // The position moved on: the tag no longer matches.
        bytes[8] ^= 1;
        assert_eq!(paging.read(partner, &B64.encode(&bytes)), None);
        let mut tag = B64.decode(&token).unwrap();
        let last = tag.len() - 1;
        tag[last] ^= 0x80;
        assert_eq!(paging.read(partner, &B64.encode(&tag)), None);
        for garbage in [
            "",
            "!!!",
            "AAAA",
            &token[..token.len() - 2],
            "x".repeat(400).as_str(),
        ] {
            assert_eq!(paging.read(partner, garbage), None, "{garbage}");
        }
    }
}
