//! The administration API, under `/admin/v1`, for operators and test suites: inspect and change
//! partners, customers and subscriptions, drive registrations, reset, load fixtures, set fault
//! rules and read the request journal.
//!
//! Enabled only with an admin token (`--admin-token`); without one the routes do not exist. Every
//! request must carry `Authorization: Bearer <admin token>`, compared in constant time; a partner's
//! token (or anything else) is refused.
//!
//! The routes are [`partner_center_model::paths::admin`]'s and the bodies
//! [`partner_center_model::admin`]'s, which the SDK's admin client shares; this module converts the
//! store's records into them.

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use partner_center_domain::customer::CustomerRecord;
use partner_center_domain::subscription::SubscriptionRecord;
use partner_center_domain::{CustomerKey, Lookup, Partner, Settled, SubscriptionKey, Upserted};
use partner_center_model::admin::{
    self as api, FaultRule, JournalEntry, PutCustomer, PutPartner, PutSubscription, RequestsQuery,
    SeedReport, SubscriptionDetail,
};
use partner_center_model::fault::codes;
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::paths::admin as paths;
use partner_center_model::{CustomerId, Fixture, RegistrationEnding, TenantId, Timestamp};
use partner_center_store::RegistrationRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::config::Secret;
use crate::error::ApiError;
use crate::ops::journal::{self, Query as JournalQuery};
use crate::render::json;
use crate::wire;

/// The admin API's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::PARTNERS, get(list_partners))
        .route(paths::PARTNER, put(put_partner).delete(delete_partner))
        .route(paths::CUSTOMERS, get(list_customers))
        .route(paths::CUSTOMER, put(put_customer).delete(delete_customer))
        .route(paths::SUBSCRIPTIONS, get(list_subscriptions))
        .route(
            paths::SUBSCRIPTION,
            get(inspect_subscription)
                .put(put_subscription)
                .delete(delete_subscription),
        )
        .route(paths::ADVANCE_REGISTRATION, post(advance_registration))
        .route(paths::FAIL_REGISTRATION, post(fail_registration))
        .route(paths::RESET, post(reset))
        .route(paths::FIXTURES, post(load_fixture))
        .route(
            paths::FAULTS,
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(paths::FAULT, axum::routing::delete(delete_fault))
        .route(paths::REQUESTS, get(find_requests))
        .route(paths::CATALOG, get(catalog))
        .route(paths::CARTS, get(list_carts))
        .route(paths::ORDERS, get(list_orders))
        .route(paths::ORDER, get(inspect_order))
        .route(paths::ADVANCE_ORDER, post(advance_order))
}

/// Proof that the request carries the admin token.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.admin_token() else {
            return Err(ApiError::route_not_found());
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::token_missing)?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ApiError::token_missing)?;
        if !is_admin_token(expected, token) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                "Access denied. The admin token is not valid.",
            ));
        }
        Ok(Self)
    }
}

/// The path parameters of an admin route, by name.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    codes::INVALID_INPUT,
                    "The path is not valid UTF-8.",
                )
            })?;
        Ok(Self(
            params
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        ))
    }
}

/// A JSON request body, refused with a 400 ServiceFault saying what is wrong.
/// The most an admin request body may hold (a fixture can be large).
const MAX_ADMIN_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An admin request's JSON body, read within the body limits (see [`wire::read_body`]) and parsed;
/// 400 (code 2000) when it is not what the endpoint takes.
struct AdminJson<T>(T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = wire::read_body(request.into_body(), MAX_ADMIN_BODY_BYTES, state).await?;
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::INVALID_INPUT,
                format!("The request body is not valid: {e}."),
            )
        })
    }
}

fn guid<T: std::str::FromStr>(value: &str, name: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| ApiError::not_a_guid(name))
}

/// Whether `token` (trimmed) is the admin token, compared in constant time; the admin API's bearer
/// and the dashboard's sign-in both ask this.
pub(crate) fn is_admin_token(expected: &Secret, token: &str) -> bool {
    let token = token.trim();
    !token.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            token.as_bytes(),
            expected.expose().as_bytes(),
        )
        .is_ok()
}
fn not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        format!("{what} not found."),
    )
}

fn upserted<T: Serialize>(outcome: Upserted, value: &T) -> Response {
    let status = match outcome {
        Upserted::Created => StatusCode::CREATED,
        Upserted::Updated => StatusCode::OK,
    };
    json(status, value)
}

fn partner(p: Partner) -> api::Partner {
    api::Partner {
        tenant_id: p.tenant_id,
        name: p.name,
        sandbox: p.sandbox,
    }
}

fn customer(c: CustomerRecord) -> api::Customer {
    api::Customer {
        id: c.id,
        company_name: c.company_name,
        domain: c.domain,
    }
}

/// A subscription as the admin API shows it.
fn subscription(s: SubscriptionRecord) -> api::Subscription {
    api::Subscription {
        registration_status: s.registration,
        id: s.id,
        kind: s.kind,
        status: s.status,
        offer_name: s.offer_name,
        offer_id: s.offer_id,
        friendly_name: s.friendly_name,
        quantity: s.quantity,
        order_id: s.order_id,
        activated_at: s.activated_at.map(journal::rfc3339),
    }
}

fn registration(r: &RegistrationRecord) -> api::Registration {
    api::Registration {
        state: r.state_name().to_owned(),
        requested_at: journal::rfc3339(r.requested_at),
        completed_at: r.completed_at.map(journal::rfc3339),
    }
}

async fn list_partners(_: Admin, State(state): State<AppState>) -> Result<Response, ApiError> {
    let partners: Vec<api::Partner> = state
        .admin_store()
        .list_partners()
        .await?
        .into_iter()
        .map(partner)
        .collect();
    Ok(json(StatusCode::OK, &partners))
}

async fn put_partner(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
    AdminJson(request): AdminJson<PutPartner>,
) -> Result<Response, ApiError> {
    let tenant: TenantId = guid(params.get("tenant"), "tenant")?;
    let partner = Partner {
        tenant_id: tenant,
        name: request.name,
        sandbox: request.sandbox,
    };
    let outcome = state
        .admin_store()
        .put_partner(&partner, Timestamp::now())
        .await?;
    Ok(upserted(outcome, &self::partner(partner)))
}

async fn delete_partner(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant: TenantId = guid(params.get("tenant"), "tenant")?;
    if state.admin_store().delete_partner(tenant).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(format_args!("Partner {tenant}")))
    }
}

async fn list_customers(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant: TenantId = guid(params.get("tenant"), "tenant")?;
    if state.requests().partner(tenant).await?.is_none() {
        return Err(not_found(format_args!("Partner {tenant}")));
    }
    let customers: Vec<api::Customer> = state
        .requests()
        .customers(tenant, None, u32::MAX)
        .await?
        .into_iter()
        .map(|(_, record)| customer(record))
        .collect();
    Ok(json(StatusCode::OK, &customers))
}

async fn put_customer(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
    AdminJson(request): AdminJson<PutCustomer>,
) -> Result<Response, ApiError> {
    let key = CustomerKey {
        partner: guid(params.get("tenant"), "tenant")?,
        customer: guid(params.get("customer"), "customer")?,
    };
    let now = Timestamp::now();
    let outcome = state
        .admin_store()
        .put_customer(key, &request.company_name, request.domain.as_deref(), now)
        .await?
        .ok_or_else(|| not_found(format_args!("Partner {}", key.partner)))?;
    let record = CustomerRecord {
        id: key.customer,
        company_name: request.company_name,
        domain: request.domain,
        created_at: now,
    };
    Ok(upserted(outcome, &self::customer(record)))
}

async fn delete_customer(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant: TenantId = guid(params.get("tenant"), "tenant")?;
    let customer: CustomerId = guid(params.get("customer"), "customer")?;
    if state
        .admin_store()
        .delete_customer(tenant, customer)
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(format_args!(
            "Customer {customer} of partner {tenant}"
        )))
    }
}

async fn list_subscriptions(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let key = CustomerKey {
        partner: guid(params.get("tenant"), "tenant")?,
        customer: guid(params.get("customer"), "customer")?,
    };
    match state.requests().subscriptions(key, None).await? {
        Some(subscriptions) => {
            let subscriptions: Vec<_> = subscriptions.into_iter().map(subscription).collect();
            Ok(json(StatusCode::OK, &subscriptions))
        }
        None => Err(not_found(format_args!(
            "Customer {} of partner {}",
            key.customer, key.partner
        ))),
    }
}

fn subscription_key(params: &Params) -> Result<SubscriptionKey, ApiError> {
    Ok(SubscriptionKey {
        partner: guid(params.get("tenant"), "tenant")?,
        customer: guid(params.get("customer"), "customer")?,
        subscription: guid(params.get("subscription"), "subscription")?,
    })
}

fn missing<T>(lookup: Lookup<T>, key: &SubscriptionKey) -> Result<T, ApiError> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::CustomerNotFound => Err(not_found(format_args!(
            "Customer {} of partner {}",
            key.customer, key.partner
        ))),
        Lookup::SubscriptionNotFound => {
            Err(not_found(format_args!("Subscription {}", key.subscription)))
        }
    }
}

async fn put_subscription(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
    AdminJson(request): AdminJson<PutSubscription>,
) -> Result<Response, ApiError> {
    let key = subscription_key(&params)?;
    let spec = FixtureSubscription {
        offer_name: request.offer_name,
        offer_id: request.offer_id,
        friendly_name: request.friendly_name,
        quantity: request.quantity,
        ..FixtureSubscription::new(key.subscription, request.kind, request.status)
    };
    let outcome = missing(
        state
            .admin_store()
            .put_subscription(key.partner, key.customer, &spec, Timestamp::now())
            .await?,
        &key,
    )?;
    let detail = missing(state.admin_store().subscription(&key).await?, &key)?;
    Ok(upserted(outcome, &subscription(detail.subscription)))
}

async fn delete_subscription(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let key = subscription_key(&params)?;
    if state.admin_store().delete_subscription(&key).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(format_args!("Subscription {}", key.subscription)))
    }
}

async fn inspect_subscription(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let key = subscription_key(&params)?;
    let detail = missing(state.admin_store().subscription(&key).await?, &key)?;
    let requests = state.journal().find(&JournalQuery {
        subscription: Some(key.subscription),
        ..JournalQuery::default()
    });
    let view = SubscriptionDetail {
        registrations: detail.registrations.iter().map(registration).collect(),
        subscription: subscription(detail.subscription),
        requests: requests.into_iter().map(JournalEntry::from).collect(),
    };
    Ok(json(StatusCode::OK, &view))
}

/// Ends the subscription's registration in progress now, as `settlement` says, whatever the delay:
/// what the admin API's advance and fail routes and the dashboard's buttons do. The subscription,
/// as it is after; 409 when it has no registration in progress.
pub(crate) async fn settle_registration(
    state: &AppState,
    key: &SubscriptionKey,
    settlement: RegistrationEnding,
) -> Result<SubscriptionRecord, ApiError> {
    match missing(
        state
            .admin_store()
            .settle_registration(key, settlement, Timestamp::now())
            .await?,
        key,
    )? {
        Settled::Done => {
            let detail = missing(state.admin_store().subscription(key).await?, key)?;
            tracing::info!(subscription = %key.subscription, ?settlement, "registration settled by an operator");
            Ok(detail.subscription)
        }
        Settled::NotRegistering(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::UNSPECIFIED,
            format!("The subscription has no registration in progress: it is {status}."),
        )),
    }
}

async fn settle(
    state: &AppState,
    key: &SubscriptionKey,
    settlement: RegistrationEnding,
) -> Result<Response, ApiError> {
    let settled = settle_registration(state, key, settlement).await?;
    Ok(json(StatusCode::OK, &subscription(settled)))
}

async fn advance_registration(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    settle(
        &state,
        &subscription_key(&params)?,
        RegistrationEnding::Registered,
    )
    .await
}

async fn fail_registration(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    settle(
        &state,
        &subscription_key(&params)?,
        RegistrationEnding::Failed,
    )
    .await
}

async fn reset(_: Admin, State(state): State<AppState>) -> Result<Response, ApiError> {
    state.admin_store().reset().await?;
    state.journal().clear();
    tracing::warn!(
        "every partner, customer, subscription and registration was deleted by an operator"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn load_fixture(
    _: Admin,
    State(state): State<AppState>,
    AdminJson(fixture): AdminJson<Fixture>,
) -> Result<Response, ApiError> {
    let report = state.fixtures().apply_fixture(&fixture).await?;
    Ok(json(
        StatusCode::OK,
        &SeedReport {
            partners: report.partners,
            customers: report.customers,
            subscriptions: report.subscriptions,
            changed: report.changed,
        },
    ))
}

async fn list_faults(_: Admin, State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &state.faults().list())
}

async fn add_fault(
    _: Admin,
    State(state): State<AppState>,
    AdminJson(rule): AdminJson<FaultRule>,
) -> Result<Response, ApiError> {
    let rule = state.faults().add(rule).map_err(|reason| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            format!("The fault rule is not valid: {reason}."),
        )
    })?;
    Ok(json(StatusCode::CREATED, &rule))
}

async fn delete_fault(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let id: u64 = params.get("id").parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            "id must be a number.",
        )
    })?;
    if state.faults().remove(id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(format_args!("Fault rule {id}")))
    }
}

async fn clear_faults(_: Admin, State(state): State<AppState>) -> Response {
    state.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn catalog(_: Admin, State(state): State<AppState>) -> Result<Response, ApiError> {
    let catalog = state.purchases().catalog().await?;
    Ok(json(StatusCode::OK, &catalog.items()))
}

fn customer_key(params: &Params) -> Result<CustomerKey, ApiError> {
    Ok(CustomerKey {
        partner: guid(params.get("tenant"), "tenant")?,
        customer: guid(params.get("customer"), "customer")?,
    })
}

fn customer_missing(key: CustomerKey) -> ApiError {
    not_found(format_args!(
        "Customer {} of partner {}",
        key.customer, key.partner
    ))
}

async fn list_carts(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let key = customer_key(&params)?;
    let carts = state
        .purchases()
        .carts(key)
        .await?
        .ok_or_else(|| customer_missing(key))?;
    let carts: Vec<_> = carts.iter().map(crate::routes::carts::resource).collect();
    Ok(json(StatusCode::OK, &carts))
}

async fn list_orders(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let key = customer_key(&params)?;
    let orders = state
        .purchases()
        .orders(key)
        .await?
        .ok_or_else(|| customer_missing(key))?;
    let orders: Vec<_> = orders.iter().map(crate::routes::orders::resource).collect();
    Ok(json(StatusCode::OK, &orders))
}

/// An order with the subscriptions it made.
async fn order_detail(
    state: &AppState,
    order: &partner_center_domain::purchase::Order,
) -> Result<api::OrderDetail, ApiError> {
    let subscriptions = state
        .requests()
        .subscriptions(order.customer, Some(&order.id))
        .await?
        .unwrap_or_default();
    Ok(api::OrderDetail {
        order: crate::routes::orders::resource(order),
        subscriptions: subscriptions.into_iter().map(subscription).collect(),
    })
}

async fn find_order(
    state: &AppState,
    params: &Params,
) -> Result<partner_center_domain::purchase::Order, ApiError> {
    order(state, customer_key(params)?, params.get("order")).await
}

/// A customer's order, or 404.
pub(crate) async fn order(
    state: &AppState,
    key: CustomerKey,
    id: &str,
) -> Result<partner_center_domain::purchase::Order, ApiError> {
    state
        .purchases()
        .order(key, id)
        .await?
        .ok_or_else(|| not_found(format_args!("Order {id} of customer {}", key.customer)))
}

async fn inspect_order(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let order = find_order(&state, &params).await?;
    Ok(json(StatusCode::OK, &order_detail(&state, &order).await?))
}

async fn advance_order(
    _: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let order = find_order(&state, &params).await?;
    let advanced = provision_order(&state, &order).await?;
    Ok(json(
        StatusCode::OK,
        &order_detail(&state, &advanced).await?,
    ))
}

/// Whether an operator can provision `order` now: it is pending with a reservation line not yet
/// provisioned (its SaaS lines complete when their subscriptions are activated).
pub(crate) fn provisionable(order: &partner_center_domain::purchase::Order) -> bool {
    use partner_center_domain::purchase::{LineStatus, OrderStatus};
    order.status == OrderStatus::Pending
        && order.lines.iter().any(|line| {
            line.kind == partner_center_model::catalog::PurchaseKind::Reservation
                && line.status == LineStatus::PrefulfillmentPending
        })
}

/// Provisions a pending order now, whatever the delay: what the admin API's advance route and the
/// dashboard's button do. The order as it is after; 409 when it has nothing to provision.
pub(crate) async fn provision_order(
    state: &AppState,
    order: &partner_center_domain::purchase::Order,
) -> Result<partner_center_domain::purchase::Order, ApiError> {
    use partner_center_domain::purchase::OrderStatus;
    if !provisionable(order) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::UNSPECIFIED,
            format!(
                "The order has nothing to provision: it is {}{}.",
                order.status.as_str(),
                if order.status == OrderStatus::Pending {
                    ", and its SaaS lines complete when their subscriptions are activated"
                } else {
                    ""
                }
            ),
        ));
    }
    let advanced = state
        .admin_store()
        .advance_order(order.customer, &order.id, Timestamp::now())
        .await?
        .ok_or_else(|| not_found(format_args!("Order {}", order.id)))?;
    tracing::info!(order = %advanced.id, status = advanced.status.as_str(), "order provisioned by an operator");
    Ok(advanced)
}

async fn find_requests(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<RequestsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            format!("The query is not valid: {}.", e.body_text()),
        )
    })?;
    let subscription = query
        .subscription
        .as_deref()
        .map(|s| guid(s, "subscription"))
        .transpose()?;
    let entries: Vec<JournalEntry> = state
        .journal()
        .find(&JournalQuery {
            correlation_id: query.correlation_id,
            request_id: query.request_id,
            subscription,
            limit: query.limit,
        })
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(json(StatusCode::OK, &entries))
}
