//! The business rules of the Partner Center service, each written once, as a pure decision.
//!
//! A decision takes plain values (the facts a store loaded and locked: a subscription's kind,
//! status and registration state, whether the partner is a sandbox...) and returns a [`Decision`]:
//! what to answer, and the [`Change`]s to make. It does no I/O and reads no clock: the stores load
//! what a decision needs, call it, and persist the changes it returns, in one transaction; neither
//! store contains a business branch. The SQLite store also follows the changes it committed in its
//! in-memory caches.
//!
//! # Layout
//!
//! - this file: the values decisions speak ([`Partner`], [`SubscriptionKey`], [`Lookup`],
//!   [`Decision`]);
//! - [`change`]: [`Change`], every write a decision can ask for;
//! - [`registration`]: registering a subscription for Reserved Instance purchase, and settling a
//!   registration (by the worker or an operator);
//! - [`activation`]: activating a sandbox SaaS subscription;
//! - [`operator`]: what operators create, update and delete through the admin API;
//! - [`seed`]: what applying a fixture changes;
//! - [`customer`]: customers as a partner reads them (domain, commerce id, paging, filter);
//! - [`catalog`]: what can be bought (the fixture's catalog, or the built-in sandbox one);
//! - [`purchase`]: carts, checkout, orders, provisioning, cancellation and the sandbox limits;
//! - [`subscription`]: what a subscription shows, and each kind's defaults.

pub mod activation;
pub mod catalog;
pub mod change;
pub mod customer;
pub mod discovery;
pub mod operator;
pub mod purchase;
pub mod registration;
pub mod seed;
pub mod subscription;

pub use activation::ActivateOutcome;
pub use change::Change;
pub use registration::{
    ClaimedRegistration, CompletedRegistration, OpenRegistration, RegisterOutcome, RegistrationId,
    Settled,
};
pub use seed::SeedReport;

use partner_center_model::{
    CustomerId, RegistrationState, SubscriptionId, SubscriptionKind, SubscriptionStatus, TenantId,
};

/// A partner account: the tenant whose tokens the service accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The partner's Entra tenant id (the `tid` of its tokens).
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Whether the account is an integration sandbox.
    pub sandbox: bool,
}

/// A customer as a partner addresses it: a customer may have several partners, and each sees
/// only its own relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomerKey {
    /// The partner.
    pub partner: TenantId,
    /// The customer's tenant id.
    pub customer: CustomerId,
}

/// A subscription as a partner addresses it: every lookup is scoped to the partner, so that one
/// tenant can never reach another's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionKey {
    /// The calling partner.
    pub partner: TenantId,
    /// The customer, as named in the path.
    pub customer: CustomerId,
    /// The subscription, as named in the path.
    pub subscription: SubscriptionId,
}

impl SubscriptionKey {
    /// The customer the subscription belongs to.
    #[must_use]
    pub const fn customer_key(&self) -> CustomerKey {
        CustomerKey {
            partner: self.partner,
            customer: self.customer,
        }
    }
}

/// The result of a lookup scoped to a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The subscription exists for this partner and customer.
    Found(T),
    /// The partner has no such customer (whether or not another partner has).
    CustomerNotFound,
    /// The customer exists but has no such subscription.
    SubscriptionNotFound,
}

impl<T> Lookup<T> {
    /// The found value transformed by `f`; a missing customer or subscription stays missing.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Self::Found(value) => Lookup::Found(f(value)),
            Self::CustomerNotFound => Lookup::CustomerNotFound,
            Self::SubscriptionNotFound => Lookup::SubscriptionNotFound,
        }
    }

    /// The found value, or what was missing, re-typed for a caller to return as it is.
    ///
    /// # Errors
    ///
    /// The missing customer or subscription.
    pub fn found<U>(self) -> Result<T, Lookup<U>> {
        match self {
            Self::Found(value) => Ok(value),
            Self::CustomerNotFound => Err(Lookup::CustomerNotFound),
            Self::SubscriptionNotFound => Err(Lookup::SubscriptionNotFound),
        }
    }
}

/// What a subscription's rules look at: its kind, status and registration state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionFacts {
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its lifecycle status.
    pub status: SubscriptionStatus,
    /// Where its registration stands.
    pub registration: RegistrationState,
}

/// A decision: what to answer, and what to change for it. The store persists `changes`, in order
/// and in the same transaction, and then answers `outcome`.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Decision<T> {
    /// What the request gets.
    pub outcome: T,
    /// What to write, in order.
    pub changes: Vec<Change>,
}

impl<T> Decision<T> {
    /// An answer that changes nothing.
    pub const fn answer(outcome: T) -> Self {
        Self {
            outcome,
            changes: Vec::new(),
        }
    }

    /// An answer, and one change.
    pub fn with(outcome: T, change: Change) -> Self {
        Self {
            outcome,
            changes: vec![change],
        }
    }

    /// This decision, and one more change after its others.
    pub fn then(mut self, change: Change) -> Self {
        self.changes.push(change);
        self
    }
}

/// Whether an upsert created its row or updated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// The row did not exist.
    Created,
    /// The row existed; it now has the given values.
    Updated,
}

impl Upserted {
    /// `Updated` when the row existed, else `Created`.
    #[must_use]
    pub const fn existed(existed: bool) -> Self {
        if existed {
            Self::Updated
        } else {
            Self::Created
        }
    }
}
