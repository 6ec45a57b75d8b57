//! Wire and domain types of the Partner Center subscription-registration and sandbox-activation API.
//!
//! Shared by the service (`partner-center-server`) and the Rust SDK (`partner-center-client`), so that
//! both sides agree on every byte. No I/O lives here.
//!
//! # Layout
//!
//! - [`ids`]: GUID newtypes ([`CustomerId`], [`SubscriptionId`], [`TenantId`]), parsed once at the edge.
//! - [`subscription`]: subscription kind and status, the registration states, and the
//!   [`Subscription`] resource.
//! - [`resources`]: the response bodies, [`SubscriptionRegistrationStatus`] and [`SubscriptionActivationResult`].
//! - [`collection`]: links and [`Collection`]s, as every part-two resource uses them.
//! - [`customer`]: the [`Customer`] resource and the customers list's [`CustomerFilter`].
//! - [`catalog`]: the catalog items a fixture declares.
//! - [`purchase`]: carts, orders, their provisioning and activation links, and the bodies that
//!   create them.
//! - [`fault`]: the [`ServiceFault`] error body and the catalogue of error [`codes`](fault::codes).
//! - [`headers`]: the request and response header names Partner Center uses.
//! - [`paths`]: the route templates, the paths built from them (the admin API's too), and the
//!   `Location` of a registration.
//! - [`admin`]: the admin API's request and response bodies (partners, customers, subscriptions,
//!   fault rules, the request journal).
//! - [`fixture`]: the seed-fixture format operators load at start.
//! - [`time`]: [`Timestamp`], milliseconds since the Unix epoch.
//! - [`media`]: the response media types ([`MediaType`]).
//! - [`xml`]: the XML forms of the bodies ([`XmlForm`]), in the DataContractSerializer style.

pub mod admin;
pub mod catalog;
pub mod collection;
pub mod customer;
pub mod fault;
pub mod fixture;
pub mod headers;
pub mod ids;
pub mod media;
#[cfg(feature = "openapi")]
mod openapi;
pub mod paths;
pub mod product;
pub mod purchase;
pub mod resources;
pub mod subscription;
pub mod time;
pub mod xml;

pub use collection::{Collection, Link, LinkHeader};
pub use customer::{Customer, CustomerCompanyProfile, CustomerFilter};
pub use fault::ServiceFault;
pub use fixture::Fixture;
pub use ids::{ClientId, CustomerId, ParseGuidError, SubscriptionId, TenantId};
pub use media::MediaType;
pub use resources::{
    ActivationStatus, ResourceAttributes, SubscriptionActivationResult,
    SubscriptionRegistrationStatus,
};
pub use subscription::{
    RegistrationEnding, RegistrationState, RegistrationStatus, Subscription, SubscriptionKind,
    SubscriptionStatus,
};
pub use time::Timestamp;
pub use xml::XmlForm;
