//! The admin API's client: operate a running `partner-center serve --admin-token <token>` (partners,
//! customers, subscriptions and their registrations, reset, fixtures, fault rules, the request
//! journal) from Rust, with the bodies of [`model::admin`](partner_center_model::admin).
//!
//! ```no_run
//! use partner_center_client::admin::AdminClient;
//! use partner_center_client::model::admin::{FaultEffect, FaultRule, PutPartner, RequestsQuery};
//!
//! # async fn run() -> Result<(), partner_center_client::Error> {
//! let admin = AdminClient::new("http://127.0.0.1:8080", "<admin token>")?;
//! let tenant = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
//! let put = admin
//!     .put_partner(tenant, &PutPartner { name: "Contoso".into(), sandbox: true })
//!     .await?;
//! assert!(put.created);
//! // The next registration fails with a 503.
//! admin
//!     .add_fault(&FaultRule {
//!         route: "registrations".into(),
//!         partner: Some(tenant),
//!         subscription: None,
//!         probability: None,
//!         count: Some(1),
//!         effect: FaultEffect::Status { status: 503, code: 800_003, description: "Busy.".into() },
//!     })
//!     .await?;
//! for entry in admin.requests(&RequestsQuery::default()).await? {
//!     println!("{} {} {} {:?}", entry.method, entry.path, entry.status, entry.fault);
//! }
//! # Ok(()) }
//! ```
//!
//! A call is made once: the admin API is for operators and test suites on the same machine or
//! network, and some of its calls (adding a fault rule) are not idempotent. An error answer is an
//! [`Error::Api`] with the service's [`ServiceFault`]; an unreachable service, an [`Error::Network`].

use std::time::Duration;

use partner_center_model::admin::{
    ActiveFaultRule, Customer, FaultRule, JournalEntry, OrderDetail, Partner, PutCustomer,
    PutPartner, PutSubscription, RequestsQuery, SeedReport, Subscription, SubscriptionDetail,
};
use partner_center_model::catalog::CatalogItem;
use partner_center_model::headers::{MS_CORRELATION_ID, MS_REQUEST_ID};
use partner_center_model::paths::admin as paths;
use partner_center_model::purchase::{Cart, Order};
use partner_center_model::{CustomerId, Fixture, ServiceFault, SubscriptionId, TenantId};
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{describe, retry_after};
use crate::error::{ApiError, Error};

/// A client of the admin API (`/admin/v1`) of a running service. Cheap to clone; share one.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base_url", &self.base_url)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// What a `put_*` call did, and the resource as it now is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted<T> {
    /// Whether the call created the resource (201), rather than updated it (200).
    pub created: bool,
    /// The resource, as the service answered it.
    pub value: T,
}

/// A successful answer.
struct Answer {
    status: u16,
    body: String,
}

/// A request with no body.
const NO_BODY: Option<&()> = None;

impl AdminClient {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:8080`), calling with the
    /// admin token `token`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the base URL is not http(s) or the HTTP client cannot be built.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Result<Self, Error> {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "the base URL `{base_url}` is not an http(s) URL"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(180))
            .user_agent(concat!(
                "partner-center-rust-sdk/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            http,
            base_url,
            token: token.into(),
        })
    }

    /// The service's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every partner (`GET /admin/v1/partners`).
    ///
    /// # Errors
    ///
    /// The errors of a call (see the [module documentation](self)).
    pub async fn partners(&self) -> Result<Vec<Partner>, Error> {
        self.get(paths::PARTNERS).await
    }

    /// Creates or updates a partner (`PUT /admin/v1/partners/{tenant}`).
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn put_partner(
        &self,
        tenant: TenantId,
        partner: &PutPartner,
    ) -> Result<Upserted<Partner>, Error> {
        self.put(&paths::partner(tenant), partner).await
    }

    /// Deletes a partner and everything that is its (`DELETE /admin/v1/partners/{tenant}`).
    ///
    /// # Errors
    ///
    /// 404 when there is no such partner; the errors of a call.
    pub async fn delete_partner(&self, tenant: TenantId) -> Result<(), Error> {
        self.delete(&paths::partner(tenant)).await
    }

    /// A partner's customers (`GET /admin/v1/partners/{tenant}/customers`).
    ///
    /// # Errors
    ///
    /// 404 when there is no such partner; the errors of a call.
    pub async fn customers(&self, tenant: TenantId) -> Result<Vec<Customer>, Error> {
        self.get(&paths::customers(tenant)).await
    }

    /// Creates or updates a partner's customer.
    ///
    /// # Errors
    ///
    /// 404 when there is no such partner; the errors of a call.
    pub async fn put_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        body: &PutCustomer,
    ) -> Result<Upserted<Customer>, Error> {
        self.put(&paths::customer(tenant, customer), body).await
    }

    /// Deletes a customer and its subscriptions.
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer; the errors of a call.
    pub async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(), Error> {
        self.delete(&paths::customer(tenant, customer)).await
    }

    /// A customer's subscriptions.
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer; the errors of a call.
    pub async fn subscriptions(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<Subscription>, Error> {
        self.get(&paths::subscriptions(tenant, customer)).await
    }

    /// A subscription with its registrations and the journal's requests on it.
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer or subscription; the errors of a call.
    pub async fn subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> Result<SubscriptionDetail, Error> {
        self.get(&paths::subscription(tenant, customer, subscription))
            .await
    }

    /// Creates a subscription, or updates its kind, status and offer name.
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer; the errors of a call.
    pub async fn put_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
        body: &PutSubscription,
    ) -> Result<Upserted<Subscription>, Error> {
        self.put(&paths::subscription(tenant, customer, subscription), body)
            .await
    }

    /// Deletes a subscription.
    ///
    /// # Errors
    ///
    /// 404 when there is no such subscription; the errors of a call.
    pub async fn delete_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> Result<(), Error> {
        self.delete(&paths::subscription(tenant, customer, subscription))
            .await
    }

    /// Completes the subscription's registration in progress now; the subscription, `Registered`.
    ///
    /// # Errors
    ///
    /// 409 when no registration is in progress; 404 when there is no such subscription; the
    /// errors of a call.
    pub async fn advance_registration(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> Result<Subscription, Error> {
        let path = paths::advance_registration(tenant, customer, subscription);
        self.decode(&self.send(Method::POST, &path, None, NO_BODY).await?)
    }

    /// Ends the subscription's registration in progress in failure; the subscription,
    /// `NotRegistered`.
    ///
    /// # Errors
    ///
    /// 409 when no registration is in progress; 404 when there is no such subscription; the
    /// errors of a call.
    pub async fn fail_registration(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> Result<Subscription, Error> {
        let path = paths::fail_registration(tenant, customer, subscription);
        self.decode(&self.send(Method::POST, &path, None, NO_BODY).await?)
    }

    /// Deletes every partner, customer, subscription, registration and idempotency record, and
    /// empties the request journal.
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn reset(&self) -> Result<(), Error> {
        self.send(Method::POST, paths::RESET, None, NO_BODY)
            .await
            .map(drop)
    }

    /// Loads a fixture (the `serve --seed` format): creates or updates what it holds.
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn load_fixture(&self, fixture: &Fixture) -> Result<SeedReport, Error> {
        self.decode(
            &self
                .send(Method::POST, paths::FIXTURES, None, Some(fixture))
                .await?,
        )
    }

    /// The fault rules in force.
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn faults(&self) -> Result<Vec<ActiveFaultRule>, Error> {
        self.get(paths::FAULTS).await
    }

    /// Adds a fault rule; the rule in force, with its id.
    ///
    /// # Errors
    ///
    /// 400 when the service finds the rule invalid (an unknown route, ...); the errors of a call.
    pub async fn add_fault(&self, rule: &FaultRule) -> Result<ActiveFaultRule, Error> {
        self.decode(
            &self
                .send(Method::POST, paths::FAULTS, None, Some(rule))
                .await?,
        )
    }

    /// Deletes a fault rule by id.
    ///
    /// # Errors
    ///
    /// 404 when there is no rule with that id; the errors of a call.
    pub async fn delete_fault(&self, id: u64) -> Result<(), Error> {
        self.delete(&paths::fault(id)).await
    }

    /// Deletes every fault rule.
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn clear_faults(&self) -> Result<(), Error> {
        self.delete(paths::FAULTS).await
    }

    /// The request journal's entries matching `query`, newest first.
    ///
    /// # Errors
    ///
    /// 400 when the query's subscription is not a GUID; the errors of a call.
    pub async fn requests(&self, query: &RequestsQuery) -> Result<Vec<JournalEntry>, Error> {
        self.decode(
            &self
                .send(Method::GET, paths::REQUESTS, Some(query), NO_BODY)
                .await?,
        )
    }

    /// The catalog the service offers (a fixture's, or the built-in sandbox catalog).
    ///
    /// # Errors
    ///
    /// The errors of a call.
    pub async fn catalog(&self) -> Result<Vec<CatalogItem>, Error> {
        self.get(paths::CATALOG).await
    }

    /// A customer's carts, newest first (expired ones too).
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer; the errors of a call.
    pub async fn carts(&self, tenant: TenantId, customer: CustomerId) -> Result<Vec<Cart>, Error> {
        self.get(&paths::carts(tenant, customer)).await
    }

    /// A customer's orders, newest first.
    ///
    /// # Errors
    ///
    /// 404 when there is no such customer; the errors of a call.
    pub async fn orders(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<Order>, Error> {
        self.get(&paths::orders(tenant, customer)).await
    }

    /// An order, with the subscriptions it made.
    ///
    /// # Errors
    ///
    /// 404 when there is no such order; the errors of a call.
    pub async fn order(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        order: &str,
    ) -> Result<OrderDetail, Error> {
        self.get(&paths::order(tenant, customer, order)).await
    }

    /// Provisions a pending reservation order now (one the `manual` delay leaves pending).
    ///
    /// # Errors
    ///
    /// 409 when the order has nothing to provision (it is not pending, or only SaaS lines await
    /// activation); 404 when there is no such order; the errors of a call.
    pub async fn advance_order(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        order: &str,
    ) -> Result<OrderDetail, Error> {
        let path = paths::advance_order(tenant, customer, order);
        self.decode(&self.send(Method::POST, &path, None, NO_BODY).await?)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.decode(&self.send(Method::GET, path, None, NO_BODY).await?)
    }

    async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Upserted<T>, Error> {
        let answer = self.send(Method::PUT, path, None, Some(body)).await?;
        Ok(Upserted {
            created: answer.status == 201,
            value: self.decode(&answer)?,
        })
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        self.send(Method::DELETE, path, None, NO_BODY)
            .await
            .map(drop)
    }

    fn decode<T: DeserializeOwned>(&self, answer: &Answer) -> Result<T, Error> {
        serde_json::from_str(&answer.body).map_err(|e| {
            Error::Decode(format!(
                "the admin API answered {} with a body that is not what was expected: {e}",
                answer.status
            ))
        })
    }

    /// Makes one call: the answer when it is a success, else the error it describes.
    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: Option<&RequestsQuery>,
        body: Option<&B>,
    ) -> Result<Answer, Error> {
        let url = format!("{}{path}", self.base_url);
        let request_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .header(ACCEPT, "application/json")
            .header(MS_REQUEST_ID, &request_id)
            .header(MS_CORRELATION_ID, &correlation_id);
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let network = |err: &reqwest::Error| Error::Network {
            url: url.clone(),
            message: describe(err),
            request_id: request_id.clone(),
        };
        let response = request.send().await.map_err(|e| network(&e))?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response.text().await.map_err(|e| network(&e))?;
        if (200..300).contains(&status) {
            return Ok(Answer { status, body });
        }
        Err(Error::Api(Box::new(ApiError {
            status,
            fault: serde_json::from_str::<ServiceFault>(&body).ok(),
            body,
            request_id,
            correlation_id,
            retry_after,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_must_be_http_and_the_token_is_never_printed() {
        let admin = AdminClient::new("http://127.0.0.1:8080/", "s3cret").unwrap();
        assert_eq!(admin.base_url(), "http://127.0.0.1:8080");
        assert!(!format!("{admin:?}").contains("s3cret"));
        assert!(matches!(
            AdminClient::new("127.0.0.1:8080", "t"),
            Err(Error::Config(_))
        ));
    }
}
