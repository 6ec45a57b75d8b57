//! The three Partner Center routes on a customer's subscription, and [`SubscriptionRequest`], the
//! one extractor that admits a request to them.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use partner_center_domain::{ActivateOutcome, Lookup, RegisterOutcome, SubscriptionKey};
use partner_center_model::fault::codes;
use partner_center_model::{
    ActivationStatus, CustomerId, RegistrationEnding, RegistrationState,
    SubscriptionActivationResult, SubscriptionId, SubscriptionRegistrationStatus, Timestamp, paths,
};
use partner_center_store::{Idempotency, Recorded};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::SubscriptionPathParams;
use crate::ops::faults::{Effect, Faults};
use crate::ops::{RequestNotes, Route};
use crate::render::{Payload, reply};
use crate::wire::{IgnoredBody, Negotiated, RequestIds, dropped_connection};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTRATIONS, post(register))
        .route(paths::REGISTRATION_STATUS, get(registration_status))
        .route(paths::ACTIVATE, post(activate))
}

/// A request on one of the three routes, admitted. Extracting it refuses, in this order, a request
/// that accepts nothing the service writes (406), an unauthenticated or unknown caller (401, 403),
/// a path whose ids are not GUIDs (400), a throttled one (429, as Partner Center's gateway), and
/// applies the fault rule that matches it, if any; so a refused request has no effect.
#[derive(Debug)]
pub(crate) struct SubscriptionRequest {
    /// The subscription, as the calling partner addresses it.
    key: SubscriptionKey,
    /// The route.
    route: Route,
    /// The request's ids.
    ids: RequestIds,
    /// What the journal and metrics learn of it.
    notes: Option<Arc<RequestNotes>>,
    /// How a registration this request starts is to end (a fault rule may make it fail).
    ending: RegistrationEnding,
}

impl FromRequestParts<AppState> for SubscriptionRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if parts
            .extensions
            .get::<Negotiated>()
            .is_some_and(Negotiated::accepts_nothing)
        {
            return Err(ApiError::not_acceptable().into_response());
        }
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .and_then(|m| m.as_str().rsplit('/').next())
            .and_then(Route::parse)
            .ok_or_else(|| {
                ApiError::internal("a subscription route without its name").into_response()
            })?;
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (customer, subscription) = subscription_path(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let notes = parts.extensions.get::<Arc<RequestNotes>>().cloned();
        if let Some(notes) = &notes {
            let _ = notes.subscription.set(subscription);
        }
        let ids = parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .ok_or_else(|| ApiError::internal("a request without its ids").into_response())?;
        let key = caller.key(customer, subscription);
        if let Err(retry_after) =
            state
                .throttle()
                .admit(route, key.partner, customer, std::time::Instant::now())
        {
            state.metrics().throttled(route.name());
            tracing::info!(route = route.name(), retry_after, "throttled");
            return Err(throttled(retry_after));
        }
        let mut ending = RegistrationEnding::Registered;
        if let Some(effect) = state.faults().pick(route, key.partner, subscription) {
            if let Some(notes) = &notes {
                let _ = notes.fault.set(effect.label());
            }
            state.metrics().fault(route.name(), effect.label());
            tracing::warn!(
                route = route.name(),
                effect = effect.label(),
                "injected fault"
            );
            match effect {
                Effect::Status {
                    status,
                    code,
                    description,
                } => {
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    return Err(ApiError::new(status, code, description).into_response());
                }
                Effect::Latency { ms } => Faults::delay(ms).await,
                Effect::Drop => return Err(dropped_connection(StatusCode::OK)),
                // Handled as usual; the correlation layer then drops the answer (the journal and
                // the logs keep the status the client never saw).
                Effect::DropResponse => {
                    if let Some(notes) = &notes {
                        let _ = notes.drop_response.set(());
                    }
                }
                Effect::FailRegistration => ending = RegistrationEnding::Failed,
            }
        }
        Ok(Self {
            key,
            route,
            ids,
            notes,
            ending,
        })
    }
}

/// 429 as Partner Center's API gateway answers it: `Retry-After` and its own body, not a ServiceFault.
fn throttled(retry_after: u64) -> Response {
    let body = format!(
        r#"{{"statusCode":429,"message":"Rate limit is exceeded. Try again in {retry_after} seconds."}}"#
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, retry_after.to_string()),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// The `{customer_id}` and `{subscription_id}` of a route, parsed into GUIDs: 400 (code 2000)
/// naming the parameter that is not one.
async fn subscription_path(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(CustomerId, SubscriptionId), ApiError> {
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        // A parameter is not UTF-8 once percent-decoded: it cannot be a GUID. Name the right one.
        let customer = parts.uri.path().split('/').nth(3).unwrap_or_default();
        let customer = customer
            .replace("%7B", "{")
            .replace("%7b", "{")
            .replace("%7D", "}")
            .replace("%7d", "}");
        return Err(match customer.parse::<CustomerId>() {
            Ok(_) => ApiError::not_a_guid("subscription_id"),
            Err(_) => ApiError::not_a_guid("customer_id"),
        });
    };
    let (mut customer, mut subscription) = (None, None);
    for (name, value) in &params {
        match name {
            "customer_id" => {
                customer = Some(
                    value
                        .parse()
                        .map_err(|_| ApiError::not_a_guid("customer_id"))?,
                );
            }
            "subscription_id" => {
                subscription = Some(
                    value
                        .parse()
                        .map_err(|_| ApiError::not_a_guid("subscription_id"))?,
                );
            }
            _ => {}
        }
    }
    match (customer, subscription) {
        (Some(customer), Some(subscription)) => Ok((customer, subscription)),
        _ => Err(ApiError::internal(
            "a subscription route lacks its path parameters",
        )),
    }
}

impl SubscriptionRequest {
    /// The idempotency key of this POST, when the client sent an `MS-RequestId`: the key is
    /// (partner, request id, method, normalised path), kept for the configured retention.
    fn idempotency(&self, state: &AppState, now: Timestamp) -> Option<Idempotency> {
        self.ids.client_request_id.then(|| Idempotency {
            request_id: String::from_utf8_lossy(self.ids.request_id.as_bytes()).into_owned(),
            method: "POST".to_owned(),
            path: self.route.path(self.key.customer, self.key.subscription),
            expires_at: now.saturating_add(state.idempotency_retention()),
        })
    }

    /// The outcome of this recorded POST, noting in the log, the journal and the metrics when it
    /// is a repeat's stored outcome.
    fn replayed<T>(&self, state: &AppState, recorded: Recorded<T>) -> T {
        if recorded.replayed {
            tracing::info!("repeated MS-RequestId: answering with the first request's outcome");
            state.metrics().replay(self.route.name());
            if let Some(notes) = &self.notes {
                let _ = notes.replayed.set(());
            }
        }
        recorded.outcome
    }
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
    request: SubscriptionRequest,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key;
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, now);
    let recorded = state
        .requests()
        .register(&key, now, idempotency.as_ref(), request.ending)
        .await?;
    let outcome = found(request.replayed(&state, recorded), &key)?;
    let location = paths::registration_status_location(key.customer, key.subscription);
    let location = HeaderValue::try_from(location).map_err(ApiError::internal)?;
    let mut response = match outcome {
        RegisterOutcome::Accepted | RegisterOutcome::AlreadyRegistering => {
            if outcome == RegisterOutcome::Accepted && !recorded.replayed {
                tracing::info!(subscription = %key.subscription, "registration accepted");
                state.worker().wake();
            }
            StatusCode::ACCEPTED.into_response()
        }
        RegisterOutcome::AlreadyRegistered => reply(
            StatusCode::OK,
            Payload::RegistrationStatus(SubscriptionRegistrationStatus::new(
                key.subscription,
                RegistrationState::Registered.into(),
            )),
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
    request: SubscriptionRequest,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key;
    let state = found(state.requests().registration_status(&key).await?, &key)?;
    Ok(reply(
        StatusCode::OK,
        Payload::RegistrationStatus(SubscriptionRegistrationStatus::new(
            key.subscription,
            state.into(),
        )),
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
    request: SubscriptionRequest,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key;
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, now);
    let recorded = state
        .requests()
        .activate(&key, now, idempotency.as_ref())
        .await?;
    match found(request.replayed(&state, recorded), &key)? {
        ActivateOutcome::NotSandbox => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::NOT_SUPPORTED_IN_ENVIRONMENT,
            "This operation is not supported in this environment.",
        )),
        ActivateOutcome::Activated => {
            if !recorded.replayed {
                tracing::info!(subscription = %key.subscription, "subscription activated");
            }
            Ok(reply(
                StatusCode::OK,
                Payload::Activation(SubscriptionActivationResult {
                    subscription_id: key.subscription,
                    status: ActivationStatus::Success,
                }),
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
