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
//! At most [`SubscriptionIndex::capacity`] subscriptions are held (17 bytes each); past it, other
//! customers are let go to make room. A customer larger than the whole index is never held: its
//! lookups query the database, one indexed row each.

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
/// twice that). A lookup interpolates: it guesses where the id sits from its value between two
/// ids it knows (at first the lowest and the highest, kept beside the vector) and narrows the
/// bracket by guessing again, a few times, then searches what is left. Random GUIDs and numbered
/// ones (`...-000000000001`) are found in two or three probes; ids spread otherwise cost a binary
/// search at worst.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    sorted: Vec<(SubscriptionId, RegistrationState)>,
    /// The lowest and the highest id, as numbers (`0, 0` when empty).
    bounds: (u128, u128),
}

/// An id as the number its bytes spell: ids sort as these do.
fn value(id: &SubscriptionId) -> u128 {
    u128::from_be_bytes(*id.as_uuid().as_bytes())
}

/// How many times a lookup guesses before it searches the bracket it has.
const GUESSES: usize = 4;

/// A bracket this small is searched at once.
const SMALL: usize = 16;

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
                self.sorted_changed();
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &SubscriptionId) -> Option<RegistrationState> {
        let i = self.position(id).ok()?;
        let (_, state) = self.sorted.remove(i);
        self.sorted_changed();
        Some(state)
    }

    fn sorted_changed(&mut self) {
        self.bounds = match (self.sorted.first(), self.sorted.last()) {
            (Some((first, _)), Some((last, _))) => (value(first), value(last)),
            _ => (0, 0),
        };
    }

    /// Where `id` is (`Ok`) or would go (`Err`).
    fn position(&self, id: &SubscriptionId) -> Result<usize, usize> {
        let items = &self.sorted;
        let n = items.len();
        let key = value(id);
        let (first, last) = self.bounds;
        if n == 0 || key < first {
            return Err(0);
        }
        if key > last {
            return Err(n);
        }
        if key == first {
            return Ok(0);
        }
        if key == last {
            return Ok(n - 1);
        }
        // The id is strictly between those at `a` and `b`: somewhere in `a + 1..b`.
        let (mut a, mut b, mut low, mut high) = (0, n - 1, first, last);
        for _ in 0..GUESSES {
            if b - a <= SMALL {
                break;
            }
            let guess = a + interpolate(key - low, high - low, b - a).clamp(1, b - a - 1);
            let probe = value(&items[guess].0);
            match probe.cmp(&key) {
                std::cmp::Ordering::Equal => return Ok(guess),
                std::cmp::Ordering::Less => (a, low) = (guess, probe),
                std::cmp::Ordering::Greater => (b, high) = (guess, probe),
            }
        }
        items[a + 1..b]
            .binary_search_by(|(s, _)| value(s).cmp(&key))
            .map(|i| a + 1 + i)
            .map_err(|i| a + 1 + i)
    }
}

/// `offset / span * steps`, rounded down: where an id `offset` past the bracket's low end sits, in
/// a bracket `span` wide of `steps` positions (`offset < span`, `steps < 2^64`).
fn interpolate(offset: u128, span: u128, steps: usize) -> usize {
    // Both cut to their top 64 bits, so that the product cannot overflow.
    let shift = (128 - span.leading_zeros()).saturating_sub(64);
    let (offset, span) = (offset >> shift, (span >> shift).max(1));
    let steps = u128::try_from(steps).unwrap_or(u128::MAX >> 64);
    usize::try_from(offset * steps / span).unwrap_or(usize::MAX)
}

impl FromIterator<(SubscriptionId, RegistrationState)> for Subscriptions {
    fn from_iter<I: IntoIterator<Item = (SubscriptionId, RegistrationState)>>(iter: I) -> Self {
        let mut sorted: Vec<_> = iter.into_iter().collect();
        sorted.sort_unstable_by_key(|(id, _)| value(id));
        sorted.dedup_by(|a, b| a.0 == b.0);
        sorted.shrink_to_fit();
        let mut subscriptions = Self {
            sorted,
            bounds: (0, 0),
        };
        subscriptions.sorted_changed();
        subscriptions
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

#[derive(Debug, Default)]
struct Held {
    customers: HashMap<CustomerKey, Subscriptions>,
    loading: HashMap<CustomerKey, Loading>,
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
