//! What the SQLite store keeps in memory, and follows from the changes it commits: the partners
//! (every authenticated request looks its own up) and the subscriptions' registration states
//! (what `GET .../registrationstatus` reads, without a query).
//!
//! # Exact
//!
//! This process is the database's only writer. Every write goes through the writer thread as
//! [`Change`]s, and once they are committed the writer hands them to [`Caches::follow`] before it
//! answers anyone: no write path updates a cache by hand, so none can forget to. A read that finds
//! a customer (or a partner) here therefore answers as the database would.
//!
//! A customer is loaded whole from a reader the first time it is asked for (then a subscription
//! missing from it does not exist). Changes to that customer committed while it loads are kept
//! aside and replayed on the loaded snapshot when the load finishes, in commit order: each change
//! sets an absolute value, so replaying one the snapshot already had is harmless, and the result
//! is the customer as it stands. So a large customer (100,000 subscriptions) under a steady stream
//! of writes is loaded once, not discarded and re-read for ever. One load per customer runs at a
//! time; a request that finds one under way asks the database for its one subscription instead.
//!
//! # Bounded
//!
//! At most [`SubscriptionIndex::capacity`] subscriptions are held (about 18 bytes each); past it,
//! other customers are let go to make room. A customer larger than the whole index is never held:
//! its lookups query the database, one indexed row each.

use partner_center_domain::change::{ApplicationValues, Settlement, SubscriptionValues};
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use partner_center_domain::{Change, CustomerKey, Lookup, SubscriptionKey};

use crate::partners::PartnerCache;
use partner_center_model::{RegistrationState, SubscriptionId, TenantId};

/// The caches, as the writer thread updates them after each commit.
#[derive(Debug)]
pub(crate) struct Caches {
    pub(crate) index: SubscriptionIndex,
    pub(crate) partners: PartnerCache,
}

impl Caches {
    pub(crate) fn new(index_capacity: usize) -> Self {
        Self {
            index: SubscriptionIndex::new(index_capacity),
            partners: PartnerCache::exact(),
        }
    }

    /// Follows committed changes. Called by the writer thread, in commit order, before any writer
    /// is answered.
    pub(crate) fn follow(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        self.partners.follow(changes);
        self.index.follow(changes);
    }
}

/// One customer's subscriptions, complete: sorted by id, 17 bytes each (a hash map would take about
/// twice that), and where each bucket of them begins (about 1 byte more an id). The ids between the
/// lowest and the highest share their leading bits; the next few bits name an id's bucket. A
/// lookup reads its bucket's bounds and searches only that bucket, a few ids long for random GUIDs
/// and numbered ones (`...-000000000001`) alike: two or three cache lines, where a binary search
/// over a large customer touched one per step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subscriptions {
    sorted: Vec<(SubscriptionId, RegistrationState)>,
    buckets: Buckets,
}

/// Where each bucket of ids begins in the sorted vector.
#[derive(Debug, Clone, Default)]
struct Buckets {
    /// The lowest and the highest id, as numbers (`0, 0` when empty).
    bounds: (u128, u128),
    /// An id's bucket is its number shifted right by this, less the lowest id's.
    shift: u32,
    /// `starts[b]`: the position of the first id in bucket `b` or after it (one more than there
    /// are buckets: the last is the vector's length).
    starts: Vec<u32>,
}

/// Buckets of ids are named by at most this many bits (16 million buckets).
const MAX_BUCKET_BITS: u32 = 24;

/// Ids are bucketed by more bits while the bucket of an id holds more than this many on average.
const CROWDED: usize = 12;

/// An id as the number its bytes spell: ids sort as these do.
fn value(id: &SubscriptionId) -> u128 {
    u128::from_be_bytes(*id.as_uuid().as_bytes())
}

impl Buckets {
    /// The buckets of `sorted`: about a quarter as many as its ids, or up to four times that when
    /// the ids crowd into a few of them (numbered ids leave most values of each hex digit unused).
    fn of(sorted: &[(SubscriptionId, RegistrationState)]) -> Self {
        let base = (sorted.len() / 4).max(1).ilog2().min(MAX_BUCKET_BITS);
        let mut buckets = Self::with_bits(sorted, base);
        for bits in base + 1..=(base + 2).min(MAX_BUCKET_BITS) {
            if buckets.crowding(sorted.len()) <= CROWDED {
                break;
            }
            buckets = Self::with_bits(sorted, bits);
        }
        buckets
    }

    /// The buckets of `sorted` by `bits` bits after those the lowest and highest ids share.
    fn with_bits(sorted: &[(SubscriptionId, RegistrationState)], bits: u32) -> Self {
        let (Some((first, _)), Some((last, _))) = (sorted.first(), sorted.last()) else {
            return Self::default();
        };
        let bounds = (value(first), value(last));
        let varying = 128 - (bounds.0 ^ bounds.1).leading_zeros();
        // At most 127: a shift of 128 would not be defined (two ids differing in the top bit).
        let shift = varying.saturating_sub(bits).min(127);
        let mut buckets = Self {
            bounds,
            shift,
            starts: Vec::new(),
        };
        let count = buckets.bucket(bounds.1) + 1;
        let mut starts = Vec::with_capacity(count + 1);
        for (position, (id, _)) in sorted.iter().enumerate() {
            let bucket = buckets.bucket(value(id));
            while starts.len() <= bucket {
                starts.push(u32::try_from(position).unwrap_or(u32::MAX));
            }
        }
        starts.resize(count + 1, u32::try_from(sorted.len()).unwrap_or(u32::MAX));
        buckets.starts = starts;
        buckets
    }

    /// How many ids the bucket of an id holds, on average over the `len` ids.
    fn crowding(&self, len: usize) -> usize {
        let squares: u64 = self
            .starts
            .windows(2)
            .map(|w| u64::from(w[1] - w[0]).pow(2))
            .sum();
        usize::try_from(squares / u64::try_from(len.max(1)).unwrap_or(1)).unwrap_or(usize::MAX)
    }

    /// The bucket of an id between the lowest and the highest.
    fn bucket(&self, id: u128) -> usize {
        usize::try_from((id >> self.shift) - (self.bounds.0 >> self.shift)).unwrap_or(usize::MAX)
    }

    /// Moves the starts of the buckets after `id`'s by one, for an id inserted (`grew`) or
    /// removed strictly between the lowest and the highest.
    fn shift_after(&mut self, id: u128, grew: bool) {
        let bucket = self.bucket(id);
        for start in &mut self.starts[bucket + 1..] {
            *start = if grew { *start + 1 } else { *start - 1 };
        }
    }
}

impl Subscriptions {
    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    pub(crate) fn get(&self, id: &SubscriptionId) -> Option<&RegistrationState> {
        self.position(id).ok().map(|i| &self.sorted[i].1)
    }

    /// Sets the subscription's state; its previous one, if it was there.
    pub(crate) fn insert(
        &mut self,
        id: SubscriptionId,
        state: RegistrationState,
    ) -> Option<RegistrationState> {
        match self.position(&id) {
            Ok(i) => Some(std::mem::replace(&mut self.sorted[i].1, state)),
            Err(i) => {
                self.sorted.insert(i, (id, state));
                let key = value(&id);
                let (first, last) = self.buckets.bounds;
                if self.sorted.len() > 1 && first < key && key < last {
                    self.buckets.shift_after(key, true);
                } else {
                    self.buckets = Buckets::of(&self.sorted);
                }
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &SubscriptionId) -> Option<RegistrationState> {
        let i = self.position(id).ok()?;
        let (_, state) = self.sorted.remove(i);
        let key = value(id);
        let (first, last) = self.buckets.bounds;
        if first < key && key < last {
            self.buckets.shift_after(key, false);
        } else {
            self.buckets = Buckets::of(&self.sorted);
        }
        Some(state)
    }

    /// Where `id` is (`Ok`) or would go (`Err`).
    fn position(&self, id: &SubscriptionId) -> Result<usize, usize> {
        let items = &self.sorted;
        let key = value(id);
        let (first, last) = self.buckets.bounds;
        if items.is_empty() || key < first {
            return Err(0);
        }
        if key > last {
            return Err(items.len());
        }
        let bucket = self.buckets.bucket(key);
        let at = |b: usize| usize::try_from(self.buckets.starts[b]).unwrap_or(usize::MAX);
        let (from, to) = (at(bucket), at(bucket + 1));
        items[from..to]
            .binary_search_by(|(s, _)| value(s).cmp(&key))
            .map(|i| from + i)
            .map_err(|i| from + i)
    }
}

impl FromIterator<(SubscriptionId, RegistrationState)> for Subscriptions {
    fn from_iter<I: IntoIterator<Item = (SubscriptionId, RegistrationState)>>(iter: I) -> Self {
        let mut sorted: Vec<_> = iter.into_iter().collect();
        sorted.sort_unstable_by_key(|(id, _)| value(id));
        sorted.dedup_by(|a, b| a.0 == b.0);
        sorted.shrink_to_fit();
        let buckets = Buckets::of(&sorted);
        Self { sorted, buckets }
    }
}

/// What a committed change does to one customer's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The subscription exists: a new one is `NotRegistered`, an existing one keeps its state.
    Exists(SubscriptionId),
    /// The subscription is in this state.
    Set(SubscriptionId, RegistrationState),
    /// The subscription no longer exists.
    Remove(SubscriptionId),
}

impl Op {
    fn apply(self, subscriptions: &mut Subscriptions) -> isize {
        match self {
            Self::Exists(id) => {
                if subscriptions.get(&id).is_some() {
                    0
                } else {
                    subscriptions.insert(id, RegistrationState::NotRegistered);
                    1
                }
            }
            Self::Set(id, state) => isize::from(subscriptions.insert(id, state).is_none()),
            Self::Remove(id) => -isize::from(subscriptions.remove(&id).is_some()),
        }
    }
}

/// What a committed change does to the index.
enum Effect {
    /// To one customer.
    Customer(CustomerKey, Op),
    /// The customer no longer exists.
    CustomerGone(CustomerKey),
    /// The partner, and every customer of it, no longer exists.
    PartnerGone(TenantId),
    /// Nothing exists any more.
    Everything,
}

fn effect(change: &Change) -> Option<Effect> {
    let on = |key: &SubscriptionKey, op: Op| Some(Effect::Customer(key.customer_key(), op));
    match change {
        Change::SubscriptionPut(SubscriptionValues { key, .. }) => {
            on(key, Op::Exists(key.subscription))
        }
        Change::RegistrationAccepted { key, .. } => on(
            key,
            Op::Set(key.subscription, RegistrationState::Registering),
        ),
        Change::RegistrationSettled(Settlement { key, ending, .. }) => {
            on(key, Op::Set(key.subscription, ending.state()))
        }
        Change::SubscriptionDeleted(key) => on(key, Op::Remove(key.subscription)),
        Change::CustomerDeleted(key) => Some(Effect::CustomerGone(*key)),
        Change::PartnerDeleted(tenant) => Some(Effect::PartnerGone(*tenant)),
        Change::Reset => Some(Effect::Everything),
        Change::PartnerPut { .. }
        | Change::ApplicationPut(ApplicationValues { .. })
        | Change::CustomerPut { .. }
        | Change::RegistrationJobDropped(_)
        | Change::SubscriptionActivated { .. }
        | Change::SubscriptionStatusSet { .. }
        | Change::CartPut(_)
        | Change::OrderPut(_)
        | Change::OrderQueued { .. }
        | Change::OrderJobDropped(_)
        | Change::CatalogReplaced(_) => None,
    }
}

/// A customer being loaded: the changes to it committed since the load began.
#[derive(Debug, Default)]
struct Loading {
    ops: Vec<Op>,
    /// The customer (or everything) was deleted meanwhile: the load is not kept.
    stale: bool,
}

/// Looked up on every read: foldhash, seeded at random per process, hashes a key in a fraction of
/// the time of std's SipHash, and the maps hold customers that exist, never keys a client made up.
#[derive(Debug, Default)]
struct Held {
    customers: HashMap<CustomerKey, Subscriptions, foldhash::fast::RandomState>,
    loading: HashMap<CustomerKey, Loading, foldhash::fast::RandomState>,
    subscriptions: usize,
}

impl Held {
    fn let_go(&mut self, customer: &CustomerKey) {
        if let Some(gone) = self.customers.remove(customer) {
            self.subscriptions -= gone.len();
        }
        if let Some(loading) = self.loading.get_mut(customer) {
            loading.stale = true;
        }
    }
}

/// The index.
#[derive(Debug)]
pub(crate) struct SubscriptionIndex {
    held: RwLock<Held>,
    capacity: usize,
}

/// Where a lookup stands when its customer is not held.
pub(crate) enum Miss<'a> {
    /// Nobody is loading the customer: load it with this ticket, then [`LoadTicket::finish`].
    Load(LoadTicket<'a>),
    /// Another request is loading it: ask the database for the one subscription.
    Busy,
}

/// The right to load one customer. Dropping it unfinished (a failed read, a cancelled request)
/// lets another request load the customer.
pub(crate) struct LoadTicket<'a> {
    index: &'a SubscriptionIndex,
    customer: CustomerKey,
    finished: bool,
}

impl SubscriptionIndex {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            held: RwLock::default(),
            capacity,
        }
    }

    /// How many subscriptions it holds at most.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The subscription's state, if its customer is held.
    pub(crate) fn lookup(&self, key: &SubscriptionKey) -> Option<Lookup<RegistrationState>> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        let customer = held.customers.get(&key.customer_key())?;
        Some(match customer.get(&key.subscription) {
            Some(state) => Lookup::Found(*state),
            None => Lookup::SubscriptionNotFound,
        })
    }

    /// The subscription's state if its customer is held (`Ok`), else whether to load the customer.
    pub(crate) fn lookup_or_load(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationState>, Miss<'_>> {
        if let Some(found) = self.lookup(key) {
            return Ok(found);
        }
        let customer = key.customer_key();
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(subscriptions) = held.customers.get(&customer) {
            return Ok(match subscriptions.get(&key.subscription) {
                Some(state) => Lookup::Found(*state),
                None => Lookup::SubscriptionNotFound,
            });
        }
        if held.loading.contains_key(&customer) {
            return Err(Miss::Busy);
        }
        held.loading.insert(customer, Loading::default());
        Err(Miss::Load(LoadTicket {
            index: self,
            customer,
            finished: false,
        }))
    }

    /// Follows committed changes.
    fn follow(&self, changes: &[Change]) {
        let effects: Vec<Effect> = changes.iter().filter_map(effect).collect();
        if effects.is_empty() {
            return;
        }
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        let held = &mut *held;
        for effect in effects {
            match effect {
                Effect::Customer(customer, op) => {
                    if let Some(subscriptions) = held.customers.get_mut(&customer) {
                        held.subscriptions = held
                            .subscriptions
                            .saturating_add_signed(op.apply(subscriptions));
                    }
                    if let Some(loading) = held.loading.get_mut(&customer) {
                        loading.ops.push(op);
                    }
                }
                Effect::CustomerGone(customer) => held.let_go(&customer),
                Effect::PartnerGone(tenant) => {
                    let gone: Vec<CustomerKey> = held
                        .customers
                        .keys()
                        .chain(held.loading.keys())
                        .filter(|c| c.partner == tenant)
                        .copied()
                        .collect();
                    for customer in &gone {
                        held.let_go(customer);
                    }
                }
                Effect::Everything => {
                    held.customers.clear();
                    held.subscriptions = 0;
                    for loading in held.loading.values_mut() {
                        loading.stale = true;
                    }
                }
            }
        }
    }
}

impl LoadTicket<'_> {
    /// The customer it loads.
    pub(crate) fn customer(&self) -> CustomerKey {
        self.customer
    }

    /// Finishes the load with what the reader found (`None`: no such customer): replays the
    /// changes committed meanwhile, holds the customer if it fits, and answers `key`.
    pub(crate) fn finish(
        mut self,
        loaded: Option<Vec<(SubscriptionId, RegistrationState)>>,
        key: &SubscriptionKey,
    ) -> Lookup<RegistrationState> {
        let (index, customer) = (self.index, self.customer);
        let mut held = index.held.write().unwrap_or_else(PoisonError::into_inner);
        // Removed here, under the lock: another load may begin as soon as it is released.
        let loading = held.loading.remove(&customer).unwrap_or_default();
        self.finished = true;
        let Some(loaded) = loaded else {
            return Lookup::CustomerNotFound;
        };
        let mut subscriptions: Subscriptions = loaded.into_iter().collect();
        for op in loading.ops {
            op.apply(&mut subscriptions);
        }
        let found = match subscriptions.get(&key.subscription) {
            Some(state) => Lookup::Found(*state),
            None => Lookup::SubscriptionNotFound,
        };
        if !loading.stale && subscriptions.len() <= index.capacity {
            // Room: let other customers go (whichever the map yields first).
            while held.subscriptions + subscriptions.len() > index.capacity {
                let Some(victim) = held.customers.keys().next().copied() else {
                    break;
                };
                held.let_go(&victim);
            }
            held.subscriptions += subscriptions.len();
            held.customers.insert(customer, subscriptions);
        }
        found
    }
}

impl Drop for LoadTicket<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.index
            .held
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .loading
            .remove(&self.customer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(customer: u8, subscription: u8) -> SubscriptionKey {
        SubscriptionKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: format!("c2f6e3b1-0000-4000-8000-0000000000{customer:02x}")
                .parse()
                .unwrap(),
            subscription: format!("d3a7f4c2-0000-4000-8000-0000000000{subscription:02x}")
                .parse()
                .unwrap(),
        }
    }

    #[test]
    fn subscriptions_find_what_they_hold_whatever_the_ids() {
        use std::collections::BTreeMap;
        let random = (0..3000).map(|_| SubscriptionId::new_random());
        let sequential =
            (0..3000u32).map(|i| format!("00000000-0000-4000-8000-{i:012}").parse().unwrap());
        let clustered =
            (0..3000u32).map(|i| format!("ffffffff-ffff-4fff-8fff-{i:012}").parse().unwrap());
        // Spreads that interpolation guesses badly: each id twice as far as the one before, and
        // two tight clusters at the ends of the range.
        let doubling = (0..3000u128)
            .map(|i| SubscriptionId::from_uuid(uuid::Uuid::from_u128((1 << (i / 24)) + i)));
        let ends = (0..3000u128).map(|i| {
            let at = if i % 2 == 0 { i } else { u128::MAX - i };
            SubscriptionId::from_uuid(uuid::Uuid::from_u128(at))
        });
        for mut ids in [
            random.collect::<Vec<SubscriptionId>>(),
            sequential.collect(),
            clustered.collect(),
            doubling.collect(),
            ends.collect(),
        ] {
            // Held and absent ids interleave, whatever order they were made in.
            ids.sort_by_key(|id| value(id).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let (held, absent) = ids.split_at(2000);
            let mut subscriptions: Subscriptions = held
                .iter()
                .map(|id| (*id, RegistrationState::Registering))
                .collect();
            let mut expected: BTreeMap<SubscriptionId, RegistrationState> = held
                .iter()
                .map(|id| (*id, RegistrationState::Registering))
                .collect();
            for id in held {
                assert_eq!(subscriptions.get(id), Some(&RegistrationState::Registering));
            }
            for id in absent {
                assert_eq!(subscriptions.get(id), None);
                // Where it would go: after every held id below it.
                let below = held.iter().filter(|h| value(h) < value(id)).count();
                assert_eq!(subscriptions.position(id), Err(below));
            }
            // Changes keep it sorted and exact.
            for (i, id) in ids.iter().enumerate().step_by(7) {
                match i % 3 {
                    0 => assert_eq!(
                        subscriptions.insert(*id, RegistrationState::Registered),
                        expected.insert(*id, RegistrationState::Registered)
                    ),
                    _ => assert_eq!(subscriptions.remove(id), expected.remove(id)),
                }
            }
            assert_eq!(subscriptions.len(), expected.len());
            for id in &ids {
                assert_eq!(subscriptions.get(id), expected.get(id), "{id}");
            }
        }
        assert_eq!(
            Subscriptions::default().get(&SubscriptionId::new_random()),
            None
        );
    }

    #[test]
    fn subscriptions_follow_any_sequence_of_changes_as_a_map_does() {
        use std::collections::BTreeMap;
        // SplitMix64: a reproducible sequence of draws.
        let mut seed = 0x5eed_u64;
        let mut draw = move || {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for round in 0..60 {
            // A pool of ids of one spread: numbered, random, or near both ends of the range.
            let pool: Vec<SubscriptionId> = (0..u128::from(draw() % 300 + 1))
                .map(|i| {
                    let at = match round % 3 {
                        0 => i * 7,
                        1 => u128::from(draw()) << 64 | u128::from(draw()),
                        _ if i % 2 == 0 => i,
                        _ => u128::MAX - i,
                    };
                    SubscriptionId::from_uuid(uuid::Uuid::from_u128(at))
                })
                .collect();
            let start = usize::try_from(draw() % 200).unwrap();
            let mut subscriptions: Subscriptions = pool
                .iter()
                .take(start)
                .map(|id| (*id, RegistrationState::NotRegistered))
                .collect();
            let mut expected: BTreeMap<u128, RegistrationState> = pool
                .iter()
                .take(start)
                .map(|id| (value(id), RegistrationState::NotRegistered))
                .collect();
            for _ in 0..400 {
                let id = pool[usize::try_from(draw()).unwrap() % pool.len()];
                if draw() % 2 == 0 {
                    assert_eq!(
                        subscriptions.insert(id, RegistrationState::Registered),
                        expected.insert(value(&id), RegistrationState::Registered)
                    );
                } else {
                    assert_eq!(subscriptions.remove(&id), expected.remove(&value(&id)));
                }
                assert_eq!(subscriptions.len(), expected.len());
            }
            for id in &pool {
                let below = expected.range(..value(id)).count();
                let position = subscriptions.position(id);
                match expected.get(&value(id)) {
                    Some(_) => assert_eq!(position, Ok(below), "round {round}"),
                    None => assert_eq!(position, Err(below), "round {round}"),
                }
            }
        }
    }

    #[test]
    fn an_id_is_searched_for_among_a_few() {
        let random = (0..100_000).map(|_| SubscriptionId::new_random());
        let numbered = (1_000_000..1_100_000u32)
            .map(|i| format!("d3a7f4c2-0000-4000-8001-{i:012}").parse().unwrap());
        for ids in [random.collect::<Vec<SubscriptionId>>(), numbered.collect()] {
            let subscriptions: Subscriptions = ids
                .iter()
                .map(|id| (*id, RegistrationState::NotRegistered))
                .collect();
            let buckets = &subscriptions.buckets;
            assert!(
                buckets.crowding(ids.len()) <= CROWDED,
                "{}",
                buckets.crowding(ids.len())
            );
            // About a byte more an id.
            assert!(
                buckets.starts.len() * 4 <= ids.len() * 2,
                "{}",
                buckets.starts.len()
            );
        }
    }

    fn loaded(of: &[(u8, RegistrationState)]) -> Option<Vec<(SubscriptionId, RegistrationState)>> {
        Some(
            of.iter()
                .map(|(n, state)| (key(0, *n).subscription, *state))
                .collect(),
        )
    }

    fn load<'a>(index: &'a SubscriptionIndex, k: &SubscriptionKey) -> LoadTicket<'a> {
        match index.lookup_or_load(k) {
            Err(Miss::Load(ticket)) => ticket,
            _ => panic!("expected to load {k:?}"),
        }
    }

    fn put(k: SubscriptionKey) -> Change {
        Change::SubscriptionPut(SubscriptionValues {
            key: k,
            kind: partner_center_model::SubscriptionKind::AzurePlan,
            status: partner_center_model::SubscriptionStatus::Active,
            offer_name: String::new(),
            offer_id: None,
            friendly_name: None,
            quantity: 1,
            order_id: None,
            term_duration: None,
            at: partner_center_model::Timestamp::from_millis(0),
        })
    }

    fn accepted(k: SubscriptionKey) -> Change {
        Change::RegistrationAccepted {
            key: k,
            ending: partner_center_model::RegistrationEnding::Registered,
            at: partner_center_model::Timestamp::from_millis(0),
        }
    }

    fn settled(k: SubscriptionKey, ending: partner_center_model::RegistrationEnding) -> Change {
        Change::RegistrationSettled(Settlement {
            registration: partner_center_domain::RegistrationId(1),
            key: k,
            ending,
            at: partner_center_model::Timestamp::from_millis(0),
        })
    }

    #[test]
    fn a_loaded_customer_answers_for_its_subscriptions_present_or_not() {
        let index = SubscriptionIndex::new(10);
        let k = key(1, 1);
        assert_eq!(index.lookup(&k), None, "nothing held yet");
        let ticket = load(&index, &k);
        assert!(
            matches!(index.lookup_or_load(&k), Err(Miss::Busy)),
            "one load at a time"
        );
        assert_eq!(
            ticket.finish(loaded(&[(1, RegistrationState::Registering)]), &k),
            Lookup::Found(RegistrationState::Registering)
        );
        assert_eq!(
            index.lookup(&k),
            Some(Lookup::Found(RegistrationState::Registering))
        );
        assert_eq!(index.lookup(&key(1, 2)), Some(Lookup::SubscriptionNotFound));
        assert_eq!(
            index.lookup(&key(2, 1)),
            None,
            "another customer is not held"
        );
        // A customer that does not exist is answered, not held.
        let absent = key(3, 1);
        assert_eq!(
            load(&index, &absent).finish(None, &absent),
            Lookup::CustomerNotFound
        );
        assert_eq!(index.lookup(&absent), None);
    }

    #[test]
    fn changes_committed_while_a_customer_loads_are_replayed_on_it() {
        let index = SubscriptionIndex::new(10);
        let (a, b, c) = (key(1, 1), key(1, 2), key(1, 3));
        let ticket = load(&index, &a);
        // Committed after the reader's snapshot, or before it: replaying is harmless either way.
        index.follow(&[
            accepted(a),
            put(c),
            settled(a, partner_center_model::RegistrationEnding::Failed),
            Change::SubscriptionDeleted(b),
            accepted(c),
        ]);
        let answer = ticket.finish(
            loaded(&[
                (1, RegistrationState::Registering),
                (2, RegistrationState::Registered),
            ]),
            &a,
        );
        assert_eq!(answer, Lookup::Found(RegistrationState::NotRegistered));
        assert_eq!(index.lookup(&b), Some(Lookup::SubscriptionNotFound));
        assert_eq!(
            index.lookup(&c),
            Some(Lookup::Found(RegistrationState::Registering))
        );
        // Once held, changes apply directly; an existing subscription's put keeps its state.
        index.follow(&[
            put(c),
            settled(a, partner_center_model::RegistrationEnding::Registered),
        ]);
        assert_eq!(
            index.lookup(&c),
            Some(Lookup::Found(RegistrationState::Registering))
        );
        assert_eq!(
            index.lookup(&a),
            Some(Lookup::Found(RegistrationState::Registered))
        );
    }

    #[test]
    fn a_load_overtaken_by_a_deletion_is_answered_but_not_kept() {
        for deletion in [
            Change::CustomerDeleted(key(1, 1).customer_key()),
            Change::PartnerDeleted(key(1, 1).partner),
            Change::Reset,
        ] {
            let index = SubscriptionIndex::new(10);
            let k = key(1, 1);
            let ticket = load(&index, &k);
            index.follow(std::slice::from_ref(&deletion));
            let answer = ticket.finish(loaded(&[(1, RegistrationState::Registered)]), &k);
            assert_eq!(answer, Lookup::Found(RegistrationState::Registered));
            assert_eq!(index.lookup(&k), None, "{deletion:?}");
        }
    }

    #[test]
    fn deletions_let_held_customers_go() {
        let index = SubscriptionIndex::new(10);
        let (a, b) = (key(1, 1), key(2, 1));
        for k in [a, b] {
            load(&index, &k).finish(loaded(&[(1, RegistrationState::NotRegistered)]), &k);
        }
        index.follow(&[Change::SubscriptionDeleted(a)]);
        assert_eq!(index.lookup(&a), Some(Lookup::SubscriptionNotFound));
        index.follow(&[Change::CustomerDeleted(a.customer_key())]);
        assert_eq!(index.lookup(&a), None);
        assert!(index.lookup(&b).is_some());
        index.follow(&[Change::PartnerDeleted(b.partner)]);
        assert_eq!(index.lookup(&b), None);
        assert_eq!(index.held.read().unwrap().subscriptions, 0);
    }

    #[test]
    fn an_abandoned_load_lets_another_request_load() {
        let index = SubscriptionIndex::new(10);
        let k = key(1, 1);
        drop(load(&index, &k));
        let ticket = load(&index, &k);
        ticket.finish(loaded(&[(1, RegistrationState::Registered)]), &k);
        assert!(index.lookup(&k).is_some());
    }

    #[test]
    fn it_holds_at_most_its_capacity_and_any_customer_that_fits() {
        let index = SubscriptionIndex::new(3);
        let two = [
            (1, RegistrationState::NotRegistered),
            (2, RegistrationState::NotRegistered),
        ];
        for customer in 0..10 {
            let k = key(customer, 1);
            load(&index, &k).finish(loaded(&two), &k);
            let held = index.held.read().unwrap();
            assert!(
                held.subscriptions <= index.capacity(),
                "{}",
                held.subscriptions
            );
            assert_eq!(
                held.subscriptions,
                held.customers
                    .values()
                    .map(Subscriptions::len)
                    .sum::<usize>()
            );
        }
        let whole: Vec<_> = (1..=3)
            .map(|n| (n, RegistrationState::NotRegistered))
            .collect();
        let k = key(41, 1);
        load(&index, &k).finish(loaded(&whole), &k);
        assert!(index.lookup(&k).is_some(), "as large as the whole index");
        let too_big: Vec<_> = (1..=4)
            .map(|n| (n, RegistrationState::NotRegistered))
            .collect();
        let k = key(42, 1);
        let answer = load(&index, &k).finish(loaded(&too_big), &k);
        assert_eq!(answer, Lookup::Found(RegistrationState::NotRegistered));
        assert_eq!(index.lookup(&k), None, "larger than the whole index");
    }
}
