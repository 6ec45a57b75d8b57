//! The partners a store keeps in memory: every authenticated request looks its own up.
//!
//! A lookup caches what it read only if no partner changed meanwhile (the generation did not
//! move), so that a read racing a write never caches the old value.
//!
//! - SQLite's cache is exact ([`PartnerCache::exact`]): its process is the database's only writer,
//!   and the writer hands it every committed change ([`PartnerCache::follow`]).
//! - PostgreSQL's expires ([`PartnerCache::expiring`]): other instances change partners too, so an
//!   entry is trusted for a short time only. The instance that changes a partner forgets its own
//!   entries once the change is committed ([`PartnerCache::clear`]); another instance sees the
//!   change within the lifetime, as a bearer token already issued stays good until it expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use partner_center_domain::{Change, Partner};
use partner_center_model::TenantId;

/// The partners, by tenant, each with when it was read.
#[derive(Debug)]
pub(crate) struct PartnerCache {
    /// Looked up on every request: foldhash, seeded at random per process (see `sqlite::state`).
    map: RwLock<HashMap<TenantId, (Partner, Instant), foldhash::fast::RandomState>>,
    generation: AtomicU64,
    lifetime: Option<Duration>,
}

impl PartnerCache {
    /// A cache whose entries stay until a change replaces them.
    pub(crate) fn exact() -> Self {
        Self::with_lifetime(None)
    }

    /// A cache whose entries are trusted for `lifetime` after they were read.
    pub(crate) fn expiring(lifetime: Duration) -> Self {
        Self::with_lifetime(Some(lifetime))
    }

    fn with_lifetime(lifetime: Option<Duration>) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            generation: AtomicU64::new(0),
            lifetime,
        }
    }

    pub(crate) fn get(&self, tenant: TenantId) -> Option<Partner> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let (partner, read) = map.get(&tenant)?;
        match self.lifetime {
            Some(lifetime) if read.elapsed() >= lifetime => None,
            _ => Some(partner.clone()),
        }
    }

    /// Where writes stand: taken before reading a partner, handed back to [`Self::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a partner read when the generation was `read_at`, unless a partner changed since.
    pub(crate) fn insert(&self, partner: Partner, read_at: u64) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that `follow` and `clear` take to move the generation.
        if self.generation() == read_at {
            map.insert(partner.tenant_id, (partner, Instant::now()));
        }
    }

    /// Follows committed changes (SQLite's writer, in commit order).
    pub(crate) fn follow(&self, changes: &[Change]) {
        let mut touched = false;
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            match change {
                Change::PartnerPut { partner, .. } => {
                    map.insert(partner.tenant_id, (partner.clone(), Instant::now()));
                }
                Change::PartnerDeleted(tenant) => {
                    map.remove(tenant);
                }
                Change::Reset => map.clear(),
                _ => continue,
            }
            touched = true;
        }
        if touched {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Forgets every partner (a change to partners was committed).
    pub(crate) fn clear(&self) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        map.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Partner {
        Partner {
            tenant_id: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            name: name.into(),
            sandbox: true,
        }
    }

    #[test]
    fn the_exact_cache_follows_committed_partner_changes_only() {
        let cache = PartnerCache::exact();
        let partner = named("P");
        let before = cache.generation();
        cache.follow(&[Change::CustomerPut {
            key: partner_center_domain::CustomerKey {
                partner: partner.tenant_id,
                customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            },
            company_name: "C".into(),
            domain: None,
            at: partner_center_model::Timestamp::from_millis(0),
        }]);
        assert_eq!(cache.generation(), before, "not a partner change");
        cache.follow(&[Change::PartnerPut {
            partner: partner.clone(),
            at: partner_center_model::Timestamp::from_millis(0),
        }]);
        assert_eq!(cache.get(partner.tenant_id), Some(partner.clone()));
        // A read that raced that write does not overwrite it.
        cache.insert(named("old"), before);
        assert_eq!(cache.get(partner.tenant_id), Some(partner.clone()));
        cache.follow(&[Change::PartnerDeleted(partner.tenant_id)]);
        assert_eq!(cache.get(partner.tenant_id), None);
        cache.insert(partner.clone(), cache.generation());
        cache.follow(&[Change::Reset]);
        assert_eq!(cache.get(partner.tenant_id), None, "a reset forgets all");
    }

    #[test]
    fn an_expiring_cache_trusts_an_entry_for_its_lifetime_and_forgets_on_clear() {
        let cache = PartnerCache::expiring(Duration::from_secs(3600));
        let partner = named("P");
        cache.insert(partner.clone(), cache.generation());
        assert_eq!(cache.get(partner.tenant_id), Some(partner.clone()));
        let read_at = cache.generation();
        cache.clear();
        assert_eq!(cache.get(partner.tenant_id), None);
        // A read that began before the clear is not cached.
        cache.insert(partner.clone(), read_at);
        assert_eq!(cache.get(partner.tenant_id), None);

        let expired = PartnerCache::expiring(Duration::ZERO);
        expired.insert(partner.clone(), expired.generation());
        assert_eq!(expired.get(partner.tenant_id), None, "past its lifetime");
    }
}
