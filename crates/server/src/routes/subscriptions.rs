//! A customer's subscriptions: the list and one subscription (`GET`), and the three routes of
//! part one on a subscription (register, registration status, activate).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use partner_center_domain::subscription::{self, SubscriptionRecord};
use partner_center_domain::{ActivateOutcome, Lookup, RegisterOutcome, SubscriptionKey};
use partner_center_model::collection::Link;
use partner_center_model::fault::codes;
use partner_center_model::resources::ResourceAttributes;
use partner_center_model::subscription::SubscriptionLinks;
use partner_center_model::{
    ActivationStatus, Collection, CustomerId, RegistrationState, Subscription,
    SubscriptionActivationResult, SubscriptionRegistrationStatus, Timestamp, paths,
};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::{CustomerPathParams, SubscriptionPathParams, SubscriptionsQueryParams};
use crate::render::reply;
use crate::routes::request::{CustomerScope, PartnerRequest, SubscriptionScope};
use crate::wire::IgnoredBody;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::SUBSCRIPTIONS, get(list_subscriptions))
        .route(paths::SUBSCRIPTION, get(get_subscription))
        .route(paths::REGISTRATIONS, post(register))
        .route(paths::REGISTRATION_STATUS, get(registration_status))
        .route(paths::ACTIVATE, post(activate))
}

/// A subscription as the partner sees it: its own values, with its kind's defaults where it has
/// none (see `partner_center_domain::subscription`).
pub(crate) fn resource(customer: CustomerId, record: &SubscriptionRecord) -> Subscription {
    let terms = subscription::terms(record);
    let path = paths::subscription(customer, record.id);
    let own = paths::unversioned(&path);
    Subscription {
        id: record.id,
        offer_id: terms.offer_id,
        offer_name: terms.offer_name,
        friendly_name: terms.friendly_name,
        quantity: record.quantity,
        unit_type: terms.unit_type.to_owned(),
        creation_date: record.created_at.to_rfc3339(),
        effective_start_date: terms.effective_start.to_rfc3339(),
        commitment_end_date: terms.commitment_end.map_or_else(
            || "9999-12-31T00:00:00.000Z".to_owned(),
            Timestamp::to_rfc3339,
        ),
        status: record.status,
        auto_renew_enabled: terms.auto_renew,
        billing_type: terms.billing_type.to_owned(),
        billing_cycle: terms.billing_cycle.to_owned(),
        term_duration: terms.term_duration,
        is_trial: false,
        contract_type: "subscription".to_owned(),
        order_id: record.order_id.clone(),
        links: SubscriptionLinks {
            activation_links: terms
                .awaits_activation
                .then(|| Link::get(format!("{own}/activationlinks"))),
            self_link: Link::get(own),
        },
        attributes: ResourceAttributes::of(Subscription::OBJECT_TYPE),
    }
}

/// The query of the subscriptions list.
#[derive(Debug, Deserialize)]
pub(crate) struct SubscriptionsQuery {
    order_id: Option<String>,
}

/// Get a customer's subscriptions.
///
/// Every subscription of the customer, by id (not paged); with `order_id`, only those the order
/// created.
#[utoipa::path(
    get,
    path = paths::templates::SUBSCRIPTIONS,
    operation_id = "GetSubscriptions",
    tag = "Subscriptions",
    params(CustomerPathParams, SubscriptionsQueryParams),
    responses((status = 200, description = "The customer's subscriptions.", body = Collection<Subscription>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_subscriptions(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    query: Result<Query<SubscriptionsQuery>, axum::extract::rejection::QueryRejection>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            format!("The query is not valid: {}.", e.body_text()),
        )
    })?;
    let key = request.customer_key();
    let records = state
        .requests()
        .subscriptions(key, query.order_id.as_deref())
        .await?
        .ok_or_else(|| ApiError::customer_not_found(key.customer))?;
    let items = records
        .iter()
        .map(|record| resource(key.customer, record))
        .collect();
    let own = paths::subscriptions(key.customer);
    Ok(reply(
        StatusCode::OK,
        Collection::new(items, Some(Link::get(paths::unversioned(&own)))),
    ))
}

/// Get a subscription of a customer.
#[utoipa::path(
    get,
    path = paths::templates::SUBSCRIPTION,
    operation_id = "GetSubscription",
    tag = "Subscriptions",
    params(SubscriptionPathParams),
    responses((status = 200, description = "The subscription.", body = Subscription)),
    security(("bearer" = []))
)]
pub(crate) async fn get_subscription(
    State(state): State<AppState>,
    request: PartnerRequest<SubscriptionScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key();
    let record = found(state.requests().find_subscription(&key).await?, &key)?;
    Ok(reply(StatusCode::OK, resource(key.customer, &record)))
}

/// The found value, or the 404 a missing customer or subscription gets. A customer of another
/// partner is indistinguishable from one that does not exist.
fn found<T>(lookup: Lookup<T>, key: &SubscriptionKey) -> Result<T, ApiError> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::CustomerNotFound => Err(ApiError::customer_not_found(key.customer)),
        Lookup::SubscriptionNotFound => Err(ApiError::subscription_not_found(key.subscription)),
    }
}

/// Register a subscription for Reserved Instance purchase.
///
/// An `azure` or `azurePlan` subscription that is `active` and not yet registered is registered in
/// the background: the answer is 202 with a `Location` to poll. While the registration is under way
/// the same call answers 202 again (nothing more is started); once it is done, 200 with the status.
#[utoipa::path(
    post,
    path = paths::templates::REGISTRATIONS,
    operation_id = "RegisterSubscription",
    tag = "Subscriptions",
    params(SubscriptionPathParams),
    responses(
        (status = 200, description = "The subscription is already registered.", body = SubscriptionRegistrationStatus,
            headers(("Location" = String, description = "The registration status, relative and unversioned: /customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus"))),
        (status = 202, description = "The registration was accepted (or is already under way); poll the Location.",
            headers(("Location" = String, description = "The registration status, relative and unversioned: /customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus"))),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    request: PartnerRequest<SubscriptionScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key();
    let now = Timestamp::now();
    let idempotency = request.idempotency(
        &state,
        "POST",
        paths::registrations(key.customer, key.subscription),
        now,
    );
    let recorded = state
        .requests()
        .register(&key, now, idempotency.as_ref(), request.ending)
        .await?;
    let replayed = recorded.replayed;
    let outcome = found(request.replayed(&state, recorded), &key)?;
    let location = paths::registration_status_location(key.customer, key.subscription);
    let location = HeaderValue::try_from(location).map_err(ApiError::internal)?;
    let mut response = match outcome {
        RegisterOutcome::Accepted | RegisterOutcome::AlreadyRegistering => {
            if outcome == RegisterOutcome::Accepted && !replayed {
                tracing::info!(subscription = %key.subscription, "registration accepted");
                state.worker().wake();
            }
            StatusCode::ACCEPTED.into_response()
        }
        RegisterOutcome::AlreadyRegistered => reply(
            StatusCode::OK,
            SubscriptionRegistrationStatus::new(
                key.subscription,
                RegistrationState::Registered.into(),
            ),
        ),
        RegisterOutcome::IneligibleKind(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::NOT_AZURE_SUBSCRIPTION,
                "This subscription is not a valid Azure subscription.",
            ));
        }
        RegisterOutcome::IneligibleStatus(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::SUBSCRIPTION_NOT_ACTIVE,
                "This subscription is not an active subscription.",
            ));
        }
    };
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Get a subscription's registration status.
///
/// Every subscription of the customer has one, whatever its kind: `NotRegistered`, `Registering`
/// or `Registered`.
#[utoipa::path(
    get,
    path = paths::templates::REGISTRATION_STATUS,
    operation_id = "GetSubscriptionRegistrationStatus",
    tag = "Subscriptions",
    params(SubscriptionPathParams),
    responses(
        (status = 200, description = "The subscription's registration status.", body = SubscriptionRegistrationStatus),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn registration_status(
    State(state): State<AppState>,
    request: PartnerRequest<SubscriptionScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key();
    let state = found(state.requests().registration_status(&key).await?, &key)?;
    Ok(reply(
        StatusCode::OK,
        SubscriptionRegistrationStatus::new(key.subscription, state.into()),
    ))
}

/// Activate a third-party SaaS subscription in an integration sandbox.
///
/// Only for partners whose account is an integration sandbox (else 400, code 900127), and only for
/// `saas` subscriptions: a `pending` one becomes `active`; an active one answers 400, code 800041.
#[utoipa::path(
    post,
    path = paths::templates::ACTIVATE,
    operation_id = "ActivateSandboxSubscription",
    tag = "Subscriptions",
    params(SubscriptionPathParams),
    responses(
        (status = 200, description = "The subscription was activated.", body = SubscriptionActivationResult),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn activate(
    State(state): State<AppState>,
    request: PartnerRequest<SubscriptionScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key();
    let now = Timestamp::now();
    let idempotency = request.idempotency(
        &state,
        "POST",
        paths::activate(key.customer, key.subscription),
        now,
    );
    let recorded = state
        .requests()
        .activate(&key, now, idempotency.as_ref())
        .await?;
    let replayed = recorded.replayed;
    match found(request.replayed(&state, recorded), &key)? {
        ActivateOutcome::NotSandbox => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::NOT_SUPPORTED_IN_ENVIRONMENT,
            "This operation is not supported in this environment.",
        )),
        ActivateOutcome::Activated => {
            if !replayed {
                tracing::info!(subscription = %key.subscription, "subscription activated");
            }
            Ok(reply(
                StatusCode::OK,
                SubscriptionActivationResult {
                    subscription_id: key.subscription,
                    status: ActivationStatus::Success,
                },
            ))
        }
        ActivateOutcome::AlreadyActive => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::ALREADY_ACTIVATED,
            "This item has already been activated.",
        )),
        ActivateOutcome::NotSaas(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::NOT_VALID_SUBSCRIPTION,
            "This subscription is not a valid subscription for activation: only third-party SaaS subscriptions can be activated.",
        )),
        ActivateOutcome::NotActivatable(status) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::OPERATION_NOT_SUPPORTED,
            format!("This operation is not supported for a subscription whose status is {status}."),
        )),
    }
}
