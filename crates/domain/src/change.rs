//! Every write a decision can ask for. The stores persist each variant with their own SQL and
//! nothing else: the rules that chose it are in the decisions. The SQLite store also follows each
//! committed change in its in-memory caches (the partners, and the subscriptions' registration
//! states).

use partner_center_model::{
    ClientId, RegistrationEnding, SubscriptionKind, SubscriptionStatus, TenantId, Timestamp,
};

use partner_center_model::catalog::CatalogItem;

use crate::purchase::{Cart, Order};
use crate::registration::RegistrationId;
use crate::{CustomerKey, Partner, SubscriptionKey};

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create the partner, or set its name and sandbox flag.
    PartnerPut {
        /// Its new values.
        partner: Partner,
        /// When.
        at: Timestamp,
    },
    /// Delete the partner and everything that is its.
    PartnerDeleted(TenantId),
    /// Create an application of the built-in identity provider, or set its name and secret.
    ApplicationPut(ApplicationValues),
    /// Create the customer of a partner (which exists), or set its company name and domain.
    CustomerPut {
        /// Whose, and which.
        key: CustomerKey,
        /// Display name.
        company_name: String,
        /// Its domain, if it was given one (else one is derived).
        domain: Option<String>,
        /// When.
        at: Timestamp,
    },
    /// Delete the customer and its subscriptions.
    CustomerDeleted(CustomerKey),
    /// Create the subscription of a customer (which exists; a new one is `NotRegistered`), or set
    /// these fields of it, keeping its registration.
    SubscriptionPut(SubscriptionValues),
    /// Delete the subscription and its registrations.
    SubscriptionDeleted(SubscriptionKey),
    /// Accept a registration: the subscription becomes `Registering`, the registration joins its
    /// history, and a job to settle it joins the queue.
    RegistrationAccepted {
        /// The subscription.
        key: SubscriptionKey,
        /// How the registration is to end.
        ending: RegistrationEnding,
        /// When it was accepted.
        at: Timestamp,
    },
    /// Settle a registration in progress: its history records how it ended, the subscription takes
    /// the state that ending leaves it in, and its job leaves the queue.
    RegistrationSettled(Settlement),
    /// Drop the job of a registration that was settled before (a job run twice).
    RegistrationJobDropped(RegistrationId),
    /// The subscription becomes `active`, activated now.
    SubscriptionActivated {
        /// Which.
        key: SubscriptionKey,
        /// When.
        at: Timestamp,
    },
    /// The subscription takes this status (a cancelled order's become `deleted`).
    SubscriptionStatusSet {
        /// Which.
        key: SubscriptionKey,
        /// Its new status.
        status: SubscriptionStatus,
        /// When.
        at: Timestamp,
    },
    /// Create or replace the cart, lines and all.
    CartPut(Cart),
    /// Create or replace the order, lines and all.
    OrderPut(Order),
    /// Queue the order's provisioning.
    OrderQueued {
        /// The order.
        order_id: String,
        /// When it was placed.
        at: Timestamp,
    },
    /// Drop the order's provisioning job (done, cancelled, or run twice).
    OrderJobDropped(String),
    /// Replace the catalog with these items, in this order.
    CatalogReplaced(Vec<CatalogItem>),
    /// Delete every partner (and so everything), the declared catalog and every idempotency record.
    Reset,
}

/// An application's values, as [`Change::ApplicationPut`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationValues {
    /// The partner's tenant.
    pub tenant: TenantId,
    /// The application (client) id.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// The client secret's hash (PBKDF2, computed before the write).
    pub secret_hash: String,
    /// When.
    pub at: Timestamp,
}

/// A subscription's values, as [`Change::SubscriptionPut`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionValues {
    /// Which.
    pub key: SubscriptionKey,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status.
    pub status: SubscriptionStatus,
    /// The offer's display name.
    pub offer_name: String,
    /// The offer or catalog item, when it is not the kind's.
    pub offer_id: Option<String>,
    /// The name the partner gave it, if any.
    pub friendly_name: Option<String>,
    /// How many.
    pub quantity: u32,
    /// The order that made it, when it was bought (kept when `None`).
    pub order_id: Option<String>,
    /// Its term, when it has its own (kept when `None`).
    pub term_duration: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// How a registration was settled, as [`Change::RegistrationSettled`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The registration.
    pub registration: RegistrationId,
    /// Its subscription.
    pub key: SubscriptionKey,
    /// How it ended.
    pub ending: RegistrationEnding,
    /// When.
    pub at: Timestamp,
}
