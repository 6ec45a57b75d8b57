//! The registration states of subscriptions, in memory: what `GET .../registrationstatus` reads,
//! without a query.
//!
//! # Exact
//!
//! This process is the database's only writer, and every write that changes which subscriptions
//! exist or how their registrations stand updates the index on the writer thread once committed,
//! before its caller (or anyone) hears of the commit. A read that finds a customer here therefore
//! answers as the database would.
//!
//! A customer is loaded whole, from a reader, the first time it is asked for (then a subscription
//! missing from it does not exist). A load that raced a write could hold the state from before
//! the write: each write moves a generation, and a load is kept only if the generation did not
//! move while it ran.
//!
//! # Bounded
//!
//! At most [`SubscriptionIndex::capacity`] subscriptions are held (17 bytes each); past it,
//! other customers are let go to make room. A customer with more than [`MAX_CUSTOMER`]
//! subscriptions is never held: its lookups query the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use partner_center_model::{CustomerId, RegistrationStatus, SubscriptionId, TenantId};

use crate::{Lookup, SubscriptionKey};

/// The largest customer held.
pub(crate) const MAX_CUSTOMER: usize = 20_000;

/// A registration state, in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    NotRegistered,
    Registering,
    Registered,
}

impl State {
    pub(crate) fn of(status: &RegistrationStatus) -> Option<Self> {
        match status {
            RegistrationStatus::NotRegistered => Some(Self::NotRegistered),
            RegistrationStatus::Registering => Some(Self::Registering),
            RegistrationStatus::Registered => Some(Self::Registered),
            RegistrationStatus::Unknown(_) => None,
        }
    }

    pub(crate) fn status(self) -> RegistrationStatus {
        match self {
            Self::NotRegistered => RegistrationStatus::NotRegistered,
            Self::Registering => RegistrationStatus::Registering,
            Self::Registered => RegistrationStatus::Registered,
        }
    }
}

/// One customer's subscriptions, complete: sorted by id, 17 bytes each (a hash map would take about
/// twice that). Ids are random GUIDs, so an id's first eight bytes say about where it sits; a lookup
/// gallops from there and searches the bracket it finds, touching a few cache lines (ids that are
/// not random cost a binary search at worst).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    sorted: Vec<(SubscriptionId, State)>,
}

impl Subscriptions {
    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }

    pub(crate) fn get(&self, id: &SubscriptionId) -> Option<&State> {
        self.position(id).ok().map(|i| &self.sorted[i].1)
    }

    /// Sets the subscription's state; its previous one, if it was there.
    pub(crate) fn insert(&mut self, id: SubscriptionId, state: State) -> Option<State> {
        match self.position(&id) {
            Ok(i) => Some(std::mem::replace(&mut self.sorted[i].1, state)),
            Err(i) => {
                self.sorted.insert(i, (id, state));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &SubscriptionId) -> Option<State> {
        let i = self.position(id).ok()?;
        Some(self.sorted.remove(i).1)
    }

    /// Where `id` is (`Ok`) or would go (`Err`).
    fn position(&self, id: &SubscriptionId) -> Result<usize, usize> {
        let items = &self.sorted;
        let n = items.len();
        if n == 0 {
            return Err(0);
        }
        let key = id.as_uuid().as_bytes();
        let cmp = |i: usize| items[i].0.as_uuid().as_bytes().cmp(key);
        let mut prefix = [0; 8];
        prefix.copy_from_slice(&key[..8]);
        let scaled = u128::from(u64::from_be_bytes(prefix)) * u128::try_from(n).unwrap_or(0);
        let guess = usize::try_from(scaled >> 64).unwrap_or(0).min(n - 1);
        // Bracket [lo, hi) by galloping away from the guess.
        let (lo, hi) = match cmp(guess) {
            std::cmp::Ordering::Equal => return Ok(guess),
            std::cmp::Ordering::Less => {
                let (mut lo, mut step) = (guess + 1, 1);
                loop {
                    let probe = guess + step;
                    if probe >= n {
                        break (lo, n);
                    }
                    match cmp(probe) {
                        std::cmp::Ordering::Equal => return Ok(probe),
                        std::cmp::Ordering::Less => lo = probe + 1,
                        std::cmp::Ordering::Greater => break (lo, probe),
                    }
                    step *= 2;
                }
            }
            std::cmp::Ordering::Greater => {
                let (mut hi, mut step) = (guess, 1);
                loop {
                    let Some(probe) = guess.checked_sub(step) else {
                        break (0, hi);
                    };
                    match cmp(probe) {
                        std::cmp::Ordering::Equal => return Ok(probe),
                        std::cmp::Ordering::Greater => hi = probe,
                        std::cmp::Ordering::Less => break (probe + 1, hi),
                    }
                    step *= 2;
                }
            }
        };
        items[lo..hi]
            .binary_search_by(|(s, _)| s.as_uuid().as_bytes().cmp(key))
            .map(|i| lo + i)
            .map_err(|i| lo + i)
    }
}

impl FromIterator<(SubscriptionId, State)> for Subscriptions {
    fn from_iter<I: IntoIterator<Item = (SubscriptionId, State)>>(iter: I) -> Self {
        let mut sorted: Vec<_> = iter.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.as_uuid().as_bytes().cmp(b.0.as_uuid().as_bytes()));
        sorted.dedup_by(|a, b| a.0 == b.0);
        sorted.shrink_to_fit();
        Self { sorted }
    }
}

/// A change a committed write made, for the index to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// The subscription exists, with this registration state.
    Set(SubscriptionKey, State),
    /// The subscription no longer exists.
    Remove(SubscriptionKey),
    /// The customer (and its subscriptions) no longer exists.
    RemoveCustomer(TenantId, CustomerId),
    /// Anything may have changed.
    All,
}

#[derive(Debug, Default)]
struct Held {
    customers: HashMap<(TenantId, CustomerId), Subscriptions>,
    subscriptions: usize,
}

/// The index.
#[derive(Debug)]
pub(crate) struct SubscriptionIndex {
    held: RwLock<Held>,
    generation: AtomicU64,
    capacity: usize,
}

impl SubscriptionIndex {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            held: RwLock::default(),
            generation: AtomicU64::new(0),
            capacity,
        }
    }

    /// How many subscriptions it holds at most.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The subscription's state, if its customer is held.
    pub(crate) fn lookup(&self, key: &SubscriptionKey) -> Option<Lookup<RegistrationStatus>> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        let customer = held.customers.get(&(key.partner, key.customer))?;
        Some(match customer.get(&key.subscription) {
            Some(state) => Lookup::Found(state.status()),
            None => Lookup::SubscriptionNotFound,
        })
    }

    /// Where writes stand: taken before loading a customer, handed back to [`Self::hold`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Holds a customer loaded when the generation was `loaded_at`, unless a write happened since
    /// or it is too large.
    pub(crate) fn hold(
        &self,
        partner: TenantId,
        customer: CustomerId,
        subscriptions: Subscriptions,
        loaded_at: u64,
    ) {
        if subscriptions.len() > MAX_CUSTOMER.min(self.capacity) {
            return;
        }
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that `apply` takes to move the generation.
        if self.generation() != loaded_at || held.customers.contains_key(&(partner, customer)) {
            return;
        }
        // Room: let other customers go (whichever the map yields first).
        while held.subscriptions + subscriptions.len() > self.capacity {
            let Some(victim) = held.customers.keys().next().copied() else {
                break;
            };
            if let Some(gone) = held.customers.remove(&victim) {
                held.subscriptions -= gone.len();
            }
        }
        held.subscriptions += subscriptions.len();
        held.customers.insert((partner, customer), subscriptions);
    }

    /// Follows committed changes.
    pub(crate) fn apply(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        for change in changes {
            match change {
                Change::Set(key, state) => {
                    if let Some(customer) = held.customers.get_mut(&(key.partner, key.customer))
                        && customer.insert(key.subscription, *state).is_none()
                    {
                        held.subscriptions += 1;
                    }
                }
                Change::Remove(key) => {
                    if let Some(customer) = held.customers.get_mut(&(key.partner, key.customer))
                        && customer.remove(&key.subscription).is_some()
                    {
                        held.subscriptions -= 1;
                    }
                }
                Change::RemoveCustomer(partner, customer) => {
                    if let Some(gone) = held.customers.remove(&(*partner, *customer)) {
                        held.subscriptions -= gone.len();
                    }
                }
                Change::All => {
                    held.customers.clear();
                    held.subscriptions = 0;
                }
            }
        }
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

    fn subscriptions(of: &[(u8, State)]) -> Subscriptions {
        of.iter()
            .map(|(n, state)| (key(0, *n).subscription, *state))
            .collect()
    }

    #[test]
    fn subscriptions_find_what_they_hold_whatever_the_ids() {
        use std::collections::BTreeMap;
        let random = (0..3000).map(|_| SubscriptionId::new_random());
        let sequential =
            (0..3000u32).map(|i| format!("00000000-0000-4000-8000-{i:012}").parse().unwrap());
        let clustered =
            (0..3000u32).map(|i| format!("ffffffff-ffff-4fff-8fff-{i:012}").parse().unwrap());
        for ids in [
            random.collect::<Vec<SubscriptionId>>(),
            sequential.collect(),
            clustered.collect(),
        ] {
            let (held, absent) = ids.split_at(2000);
            let mut subscriptions: Subscriptions =
                held.iter().map(|id| (*id, State::Registering)).collect();
            let mut expected: BTreeMap<SubscriptionId, State> =
                held.iter().map(|id| (*id, State::Registering)).collect();
            for id in held {
                assert_eq!(subscriptions.get(id), Some(&State::Registering));
            }
            for id in absent {
                assert_eq!(subscriptions.get(id), None);
            }
            // Changes keep it sorted and exact.
            for (i, id) in ids.iter().enumerate().step_by(7) {
                match i % 3 {
                    0 => assert_eq!(
                        subscriptions.insert(*id, State::Registered),
                        expected.insert(*id, State::Registered)
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
    fn a_held_customer_answers_for_its_subscriptions_present_or_not() {
        let index = SubscriptionIndex::new(10);
        let k = key(1, 1);
        assert_eq!(index.lookup(&k), None, "nothing held yet");
        index.hold(
            k.partner,
            k.customer,
            subscriptions(&[(1, State::Registering)]),
            index.generation(),
        );
        assert_eq!(
            index.lookup(&k),
            Some(Lookup::Found(RegistrationStatus::Registering))
        );
        assert_eq!(index.lookup(&key(1, 2)), Some(Lookup::SubscriptionNotFound));
        assert_eq!(
            index.lookup(&key(2, 1)),
            None,
            "another customer is not held"
        );
    }

    #[test]
    fn a_load_that_raced_a_write_is_not_kept() {
        let index = SubscriptionIndex::new(10);
        let k = key(1, 1);
        let before = index.generation();
        index.apply(&[Change::Set(k, State::Registered)]);
        index.hold(
            k.partner,
            k.customer,
            subscriptions(&[(1, State::NotRegistered)]),
            before,
        );
        assert_eq!(index.lookup(&k), None, "the stale load was dropped");
    }

    #[test]
    fn committed_changes_are_followed() {
        let index = SubscriptionIndex::new(10);
        let k = key(1, 1);
        index.hold(
            k.partner,
            k.customer,
            subscriptions(&[(1, State::NotRegistered)]),
            index.generation(),
        );
        index.apply(&[Change::Set(k, State::Registering)]);
        assert_eq!(
            index.lookup(&k),
            Some(Lookup::Found(RegistrationStatus::Registering))
        );
        index.apply(&[Change::Set(key(1, 2), State::NotRegistered)]);
        assert_eq!(
            index.lookup(&key(1, 2)),
            Some(Lookup::Found(RegistrationStatus::NotRegistered))
        );
        index.apply(&[Change::Remove(k)]);
        assert_eq!(index.lookup(&k), Some(Lookup::SubscriptionNotFound));
        index.apply(&[Change::RemoveCustomer(k.partner, k.customer)]);
        assert_eq!(index.lookup(&key(1, 2)), None);
        index.hold(
            k.partner,
            k.customer,
            subscriptions(&[(1, State::Registered)]),
            index.generation(),
        );
        index.apply(&[Change::All]);
        assert_eq!(index.lookup(&k), None);
    }

    #[test]
    fn it_holds_at_most_its_capacity() {
        let index = SubscriptionIndex::new(3);
        let all = [(1, State::NotRegistered), (2, State::NotRegistered)];
        for customer in 0..10 {
            let k = key(customer, 1);
            index.hold(
                k.partner,
                k.customer,
                subscriptions(&all),
                index.generation(),
            );
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
        let too_big: Vec<_> = (1..=4).map(|n| (n, State::NotRegistered)).collect();
        let k = key(42, 1);
        index.hold(
            k.partner,
            k.customer,
            subscriptions(&too_big),
            index.generation(),
        );
        assert_eq!(index.lookup(&k), None, "larger than the whole index");
    }
}
