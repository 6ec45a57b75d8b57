//! The Rust SDK for Microsoft Partner Center's subscription-registration and sandbox-activation
//! API: what the .NET SDK is for C#, for Rust. It calls the real Partner Center
//! (`https://api.partnercenter.microsoft.com`, the default) or any service that speaks its API,
//! such as this project's `partner-center serve`.
//!
//! ```no_run
//! use partner_center_client::{ClientCredentials, PartnerCenter, WaitOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // App-only credentials, from Entra ID.
//! let credentials = ClientCredentials::new("<partner tenant id>", "<application id>", "<secret>");
//! let partner = PartnerCenter::builder().token_provider(credentials).build()?;
//!
//! let subscription = partner
//!     .customers()
//!     .by_id("c2f6e3b1-0000-4000-8000-000000000002".parse()?)
//!     .subscriptions()
//!     .by_id("d3a7f4c2-0000-4000-8000-000000000003".parse()?);
//! let location = subscription.registration().register().await?; // 202: under way
//! let status = subscription.registration_status().get().await?; // Registering, then Registered
//! let done = subscription.registration().register_and_wait(WaitOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! Against a local sandbox (`partner-center serve --demo`), give its base URL and a token it
//! accepts; the crate's `examples/sandbox.rs` is a complete program (`cargo run -p partner-center-client --example sandbox`). Client
//! credentials work against its built-in identity provider too:
//!
//! ```
//! use partner_center_client::{ClientCredentials, PartnerCenter};
//!
//! let credentials = ClientCredentials::new("<partner tenant id>", "<application id>", "<secret>")
//!     .authority("http://127.0.0.1:8080"); // serve --identity-provider
//! assert_eq!(
//!     credentials.token_endpoint(),
//!     "http://127.0.0.1:8080/<partner tenant id>/oauth2/v2.0/token"
//! );
//! let partner = PartnerCenter::builder()
//!     .base_url("http://127.0.0.1:8080")
//!     .token_provider(credentials)
//!     .build()
//!     .unwrap();
//! assert_eq!(partner.base_url(), "http://127.0.0.1:8080");
//! ```
//!
//! App+User calls take a token from your own provider (MSAL's device-code flow, a cache...):
//!
//! ```
//! use partner_center_client::{Error, PartnerCenter, TokenProvider};
//!
//! struct SignedInUser;
//!
//! #[async_trait::async_trait]
//! impl TokenProvider for SignedInUser {
//!     async fn token(&self, refresh: bool) -> Result<String, Error> {
//!         // With `refresh`, the service refused the last token: get a new one.
//!         Ok("<the user's access token>".to_owned())
//!     }
//!
//!     fn can_refresh(&self) -> bool {
//!         true
//!     }
//! }
//!
//! let partner = PartnerCenter::builder().token_provider(SignedInUser).build().unwrap();
//! # assert_eq!(partner.base_url(), partner_center_client::PARTNER_CENTER);
//! ```
//!
//! Failures say what the service said, and which call it was:
//!
//! ```no_run
//! # use partner_center_client::{Error, ErrorCategory, PartnerCenter};
//! # async fn run(partner: PartnerCenter, customer: partner_center_client::model::CustomerId,
//! #     subscription: partner_center_client::model::SubscriptionId) {
//! match partner.customers().by_id(customer).subscriptions().by_id(subscription).activate().await {
//!     Ok(result) => println!("activation: {}", result.status),
//!     Err(Error::Api(api)) if api.category() == ErrorCategory::BadInput => {
//!         // e.g. code 800041, "This item has already been activated."
//!         eprintln!("refused: {:?} {} (MS-RequestId {})", api.code(), api.description(), api.request_id);
//!     }
//!     Err(other) => eprintln!("{other}"),
//! }
//! # }
//! ```
//!
//! # The admin API
//!
//! [`AdminClient`] operates this project's own service through its admin API (`serve
//! --admin-token`): partners, customers, subscriptions, settling registrations, reset, fixtures,
//! fault rules and the request journal, with the typed bodies of [`model::admin`]. Test suites use
//! it to set up a sandbox, inject faults and check what their client sent:
//!
//! ```no_run
//! use partner_center_client::AdminClient;
//! use partner_center_client::model::admin::RequestsQuery;
//!
//! # async fn run() -> Result<(), partner_center_client::Error> {
//! let admin = AdminClient::new("http://127.0.0.1:8080", "<admin token>")?;
//! admin.reset().await?;
//! let fixture = partner_center_client::model::Fixture::from_json(r#"{"partners": []}"#).unwrap();
//! let report = admin.load_fixture(&fixture).await?;
//! let newest = admin.requests(&RequestsQuery { limit: Some(1), ..RequestsQuery::default() }).await?;
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! - **Retries**, as the .NET SDK's: network errors and 5xx answers are retried 3 times, after
//!   0.5, 1.5 and 3.5 s, with the same `MS-RequestId`, so a POST that timed out is not executed
//!   twice; 400, 401, 403, 404 and 409 are never retried; a 429 is retried after its
//!   `Retry-After`. See [`RetryPolicy`].
//! - **Ids**: every call sends a fresh `MS-CorrelationId` and `MS-RequestId` unless
//!   [`PartnerCenter::with`] gives a [`RequestContext`].
//! - **Errors** carry the ServiceFault's code and description, the HTTP status and the call's
//!   ids ([`ApiError`]), and a category as the .NET SDK's ([`ErrorCategory`]).
//! - **Tokens**: a static token, Entra ID's client-credentials flow with caching and renewal
//!   ([`ClientCredentials`]), or your own [`TokenProvider`] (App+User). A 401 makes a renewable
//!   provider fetch a new token once.
//! - **Media**: JSON by default, XML with [`PartnerCenterBuilder::xml`]; statuses are read in any
//!   case, and an unknown one is kept as `Unknown` rather than refused.
//!
//! # Layout
//!
//! - [`PartnerCenter`], [`PartnerCenterBuilder`], [`RequestContext`]: the client.
//! - `operations`: the object model (customers, subscriptions, registration, status, activation).
//! - `products`: catalog discovery (products, SKUs, availabilities) and the inventory check.
//! - `purchases`: carts, their checkout, orders, their provisioning, cancellation and activation
//!   links.
//! - [`credentials`]: where tokens come from.
//! - [`admin`]: [`AdminClient`], the admin API's client.
//! - [`RetryPolicy`]; [`Error`], [`ApiError`].
//!
//! The wire types are the service's own, re-exported as [`model`].

pub mod admin;
mod client;
pub mod credentials;
mod error;
mod operations;
mod pages;
mod products;
mod purchases;
mod retry;

pub use admin::AdminClient;
pub use client::{
    API_VERSION, PARTNER_CENTER, PartnerCenter, PartnerCenterBuilder, RequestContext,
};
pub use credentials::{ClientCredentials, StaticToken, TokenProvider};
pub use error::{ApiError, Error, ErrorCategory};
pub use operations::{
    CustomerCollection, CustomerOperations, RegistrationOperations, RegistrationStatusOperations,
    SubscriptionCollection, SubscriptionOperations, WaitOptions,
};
pub use pages::{CustomerPages, CustomerQuery};
pub use partner_center_model as model;
pub use products::{
    ProductCollection, ProductOperations, ProductsOfCountry, SkuCollection, SkuOperations,
};
pub use purchases::{CartCollection, CartOperations, OrderCollection, OrderOperations};
pub use retry::RetryPolicy;
