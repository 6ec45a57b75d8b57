//! The three Partner Center routes on a customer's subscription.

use axum::Extension;
use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use partner_center_model::fault::codes;
use partner_center_model::{
    ActivationStatus, CustomerId, RegistrationStatus, SubscriptionActivationResult, SubscriptionId,
    SubscriptionRegistrationStatus, Timestamp, paths,
};
use partner_center_store::{
    ActivateOutcome, Idempotency, Lookup, Recorded, RegisterOutcome, SubscriptionKey,
};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::SubscriptionPathParams;
use crate::ops::faults::{Effect, Faults};
use crate::ops::{RequestNotes, Route};
use crate::wire::{IgnoredBody, Payload, RequestIds, not_acceptable, reply};

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(paths::REGISTRATIONS, post(register))
        .route(paths::REGISTRATION_STATUS, get(registration_status))
        .route(paths::ACTIVATE, post(activate))
        .route_layer(axum::middleware::from_fn_with_state(state, gate))
}

/// Marks a registration request that a fault rule made to end in failure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailRegistration;

/// Route middleware of the three routes: refuses a request that accepts nothing the service
/// writes (406), authenticates the caller and parses the path (which the handlers then reuse),
/// then applies throttling (429, as Partner Center's gateway) and fault rules, before the handler
/// runs.
async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if not_acceptable(&request) {
        return ApiError::not_acceptable().into_response();
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| m.as_str().rsplit('/').next())
        .and_then(Route::parse);
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let path = match SubscriptionPath::from_request_parts(&mut parts, &state).await {
        Ok(path) => path,
        Err(err) => return err.into_response(),
    };
    let Some(route) = route else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let partner = caller.partner.tenant_id;
    if let Err(retry_after) =
        state
            .throttle()
            .admit(route, partner, path.customer, std::time::Instant::now())
    {
        state.metrics().throttled(route.name());
        tracing::info!(route = route.name(), retry_after, "throttled");
        return throttled(retry_after);
    }
    if let Some(effect) = state.faults().pick(route, partner, path.subscription) {
        if let Some(notes) = parts.extensions.get::<std::sync::Arc<RequestNotes>>() {
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
                return ApiError::new(status, code, description).into_response();
            }
            Effect::Latency { ms } => Faults::delay(ms).await,
            Effect::Drop => return dropped_connection(StatusCode::OK),
            Effect::DropResponse => {
                // The journal and the logs keep the status the client never saw.
                let answered = next.run(Request::from_parts(parts, body)).await;
                return dropped_connection(answered.status());
            }
            Effect::FailRegistration => {
                parts.extensions.insert(FailRegistration);
            }
        }
    }
    next.run(Request::from_parts(parts, body)).await
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

/// A response whose body fails before a byte is sent: the server closes the connection unanswered.
/// `status` is only what the service's own journal and logs record.
fn dropped_connection(status: StatusCode) -> Response {
    struct Dropped;

    impl http_body::Body for Dropped {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::other(
                "connection dropped by a fault rule",
            ))))
        }
    }

    let mut response = Response::new(axum::body::Body::new(Dropped));
    *response.status_mut() = status;
    response
}

/// The `{customer_id}` and `{subscription_id}` of a route, parsed into GUIDs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscriptionPath {
    customer: CustomerId,
    subscription: SubscriptionId,
}

impl<S: Send + Sync> FromRequestParts<S> for SubscriptionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(path) = parts.extensions.get::<Self>() {
            return Ok(*path);
        }
        let path = Self::parse(parts, state).await?;
        if let Some(notes) = parts.extensions.get::<std::sync::Arc<RequestNotes>>() {
            let _ = notes.subscription.set(path.subscription);
        }
        parts.extensions.insert(path);
        Ok(path)
    }
}

impl SubscriptionPath {
    async fn parse<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
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
                    )
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
            (Some(customer), Some(subscription)) => Ok(Self {
                customer,
                subscription,
            }),
            _ => Err(ApiError::internal(
                "a subscription route lacks its path parameters",
            )),
        }
    }
}

/// The idempotency key of a POST on `action`, when the client sent an `MS-RequestId`: the key is
/// (partner, request id, method, normalised path), kept for the configured retention.
fn idempotency_key(
    state: &AppState,
    ids: &RequestIds,
    key: &SubscriptionKey,
    action: &str,
    now: Timestamp,
) -> Option<Idempotency> {
    ids.client_request_id.then(|| Idempotency {
        request_id: String::from_utf8_lossy(ids.request_id.as_bytes()).into_owned(),
        method: "POST".to_owned(),
        path: format!(
            "/v1/customers/{}/subscriptions/{}/{action}",
            key.customer, key.subscription
        ),
        expires_at: now.saturating_add(state.idempotency_retention()),
    })
}

/// The outcome of a recorded POST, noting in the log, the journal and the metrics when it is a
/// repeat's stored outcome.
fn replayed<T>(
    state: &AppState,
    route: Route,
    notes: Option<&RequestNotes>,
    recorded: Recorded<T>,
) -> T {
    if recorded.replayed {
        tracing::info!("repeated MS-RequestId: answering with the first request's outcome");
        state.metrics().replay(route.name());
        if let Some(notes) = notes {
            let _ = notes.replayed.set(());
        }
    }
    recorded.outcome
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
    caller: Caller,
    path: SubscriptionPath,
    Extension(ids): Extension<RequestIds>,
    notes: Option<Extension<std::sync::Arc<RequestNotes>>>,
    fail: Option<Extension<FailRegistration>>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = caller.key(path.customer, path.subscription);
    let now = Timestamp::now();
    let idempotency = idempotency_key(&state, &ids, &key, "registrations", now);
    let recorded = state
        .store()
        .register(&key, now, idempotency.as_ref(), fail.is_some())
        .await?;
    let outcome = found(
        replayed(
            &state,
            Route::Registrations,
            notes.as_deref().map(|n| &**n),
            recorded,
        ),
        &key,
    )?;
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
                RegistrationStatus::Registered,
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
    caller: Caller,
    path: SubscriptionPath,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = caller.key(path.customer, path.subscription);
    let status = found(state.store().registration_status(&key).await?, &key)?;
    Ok(reply(
        StatusCode::OK,
        Payload::RegistrationStatus(SubscriptionRegistrationStatus::new(
            key.subscription,
            status,
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
    caller: Caller,
    path: SubscriptionPath,
    Extension(ids): Extension<RequestIds>,
    notes: Option<Extension<std::sync::Arc<RequestNotes>>>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = caller.key(path.customer, path.subscription);
    let now = Timestamp::now();
    let idempotency = idempotency_key(&state, &ids, &key, "activate", now);
    let recorded = state
        .store()
        .activate(&key, now, idempotency.as_ref())
        .await?;
    match found(
        replayed(
            &state,
            Route::Activate,
            notes.as_deref().map(|n| &**n),
            recorded,
        ),
        &key,
    )? {
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
