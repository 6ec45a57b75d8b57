//! The operator and sandbox surface: fault injection, the request journal, throttling and metrics,
//! which the Partner Center routes' extractor applies.

pub mod faults;
pub mod journal;
pub mod metrics;
pub mod throttle;

use std::sync::OnceLock;

use partner_center_model::{SubscriptionId, TenantId, paths};

/// A Partner Center route, as throttling rules, fault rules, metrics and the journal name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST .../subscriptions/{id}/registrations`.
    Registrations,
    /// `GET .../subscriptions/{id}/registrationstatus`.
    RegistrationStatus,
    /// `POST .../subscriptions/{id}/activate`.
    Activate,
    /// `GET /v1/customers`.
    Customers,
    /// `GET /v1/customers/{id}`.
    Customer,
    /// `GET .../customers/{id}/subscriptions`.
    Subscriptions,
    /// `GET .../subscriptions/{id}`.
    Subscription,
    /// `POST .../customers/{id}/carts`.
    Carts,
    /// `GET`, `PUT .../carts/{id}`.
    Cart,
    /// `POST .../carts/{id}/checkout`.
    Checkout,
    /// `GET`, `POST .../customers/{id}/orders`.
    Orders,
    /// `GET`, `PATCH .../orders/{id}`.
    Order,
    /// `GET .../orders/{id}/provisioningstatus`.
    ProvisioningStatus,
    /// `GET .../orders/{id}/lineitems/{n}/activationlinks`.
    OrderActivationLinks,
    /// `GET .../subscriptions/{id}/activationlinks`.
    ActivationLinks,
    /// `GET /v1/products`.
    Products,
    /// `GET /v1/products/{id}`.
    Product,
    /// `GET /v1/products/{id}/skus`.
    Skus,
    /// `GET /v1/products/{id}/skus/{id}`.
    Sku,
    /// `GET .../skus/{id}/availabilities`.
    Availabilities,
    /// `GET .../availabilities/{id}`.
    Availability,
    /// `POST /v1/extensions/product/checkInventory`.
    CheckInventory,
}

impl Route {
    /// Every route: its name, and its template.
    pub const ALL: &[(Self, &'static str, &'static str)] = &[
        (Self::Registrations, "registrations", paths::REGISTRATIONS),
        (
            Self::RegistrationStatus,
            "registrationstatus",
            paths::REGISTRATION_STATUS,
        ),
        (Self::Activate, "activate", paths::ACTIVATE),
        (Self::Customers, "customers", paths::CUSTOMERS),
        (Self::Customer, "customer", paths::CUSTOMER),
        (Self::Subscriptions, "subscriptions", paths::SUBSCRIPTIONS),
        (Self::Subscription, "subscription", paths::SUBSCRIPTION),
        (Self::Carts, "carts", paths::CARTS),
        (Self::Cart, "cart", paths::CART),
        (Self::Checkout, "checkout", paths::CHECKOUT),
        (Self::Orders, "orders", paths::ORDERS),
        (Self::Order, "order", paths::ORDER),
        (
            Self::ProvisioningStatus,
            "provisioningstatus",
            paths::PROVISIONING_STATUS,
        ),
        (
            Self::OrderActivationLinks,
            "orderactivationlinks",
            paths::ORDER_ACTIVATION_LINKS,
        ),
        (
            Self::ActivationLinks,
            "activationlinks",
            paths::SUBSCRIPTION_ACTIVATION_LINKS,
        ),
        (Self::Products, "products", paths::PRODUCTS),
        (Self::Product, "product", paths::PRODUCT),
        (Self::Skus, "skus", paths::SKUS),
        (Self::Sku, "sku", paths::SKU),
        (
            Self::Availabilities,
            "availabilities",
            paths::AVAILABILITIES,
        ),
        (Self::Availability, "availability", paths::AVAILABILITY),
        (
            Self::CheckInventory,
            "checkinventory",
            paths::CHECK_INVENTORY,
        ),
    ];

    /// The route by its name (`registrations`, `customers`, ...).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(route, _, _)| *route)
    }

    /// The route a matched template (as axum names it) is.
    #[must_use]
    pub fn of_template(template: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, _, t)| *t == template)
            .map(|(route, _, _)| *route)
    }

    /// Every route's name, for messages: `registrations, registrationstatus, ...`.
    #[must_use]
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|(_, name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Its name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(route, _, _)| *route == self)
            .map_or("", |(_, name, _)| name)
    }
}

/// What the handlers learn about a request that the journal and metrics want: put in the request's
/// extensions by the correlation middleware, filled in as the request is handled.
#[derive(Debug, Default, Clone)]
pub struct RequestNotes {
    /// The authenticated partner.
    pub partner: OnceLock<TenantId>,
    /// The subscription in the path.
    pub subscription: OnceLock<SubscriptionId>,
    /// The fault injected.
    pub fault: OnceLock<&'static str>,
    /// Whether the answer is a stored outcome.
    pub replayed: OnceLock<()>,
    /// Whether a fault rule drops the answer: the connection is closed once the request has had
    /// its effect.
    pub drop_response: OnceLock<()>,
}
