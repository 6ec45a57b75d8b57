//! The operator and sandbox surface: fault injection, the request journal, throttling and metrics,
//! and the gate that applies throttling and faults to the three routes.

pub mod faults;
pub mod journal;
pub mod metrics;
pub mod throttle;

use std::sync::OnceLock;

use partner_center_model::{CustomerId, SubscriptionId, TenantId, paths};

/// One of the three Partner Center routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST .../registrations`.
    Registrations,
    /// `GET .../registrationstatus`.
    RegistrationStatus,
    /// `POST .../activate`.
    Activate,
}

impl Route {
    /// The route by its last path segment.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "registrations" => Some(Self::Registrations),
            "registrationstatus" => Some(Self::RegistrationStatus),
            "activate" => Some(Self::Activate),
            _ => None,
        }
    }

    /// Its normalised path on a subscription (version `v1`, lower-case literals and ids).
    #[must_use]
    pub fn path(self, customer: CustomerId, subscription: SubscriptionId) -> String {
        match self {
            Self::Registrations => paths::registrations(customer, subscription),
            Self::RegistrationStatus => paths::registration_status(customer, subscription),
            Self::Activate => paths::activate(customer, subscription),
        }
    }

    /// Its last path segment.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Registrations => "registrations",
            Self::RegistrationStatus => "registrationstatus",
            Self::Activate => "activate",
        }
    }
}

/// What the handlers learn about a request that the journal and metrics want: put in the request's
/// extensions by the correlation middleware, filled in as the request is handled.
#[derive(Debug, Default)]
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
