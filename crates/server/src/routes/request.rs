//! [`PartnerRequest`], the one extractor that admits a request to a Partner Center route, and the
//! scopes a route's path names ([`NoScope`], [`CustomerScope`], [`SubscriptionScope`]).

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use partner_center_domain::{CustomerKey, SubscriptionKey};
use partner_center_model::{CustomerId, RegistrationEnding, SubscriptionId, TenantId, Timestamp};
use partner_center_store::{Idempotency, Recorded};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ops::Route;
use crate::ops::faults::{Effect, Faults};
use crate::wire::{Correlated, dropped_connection};

/// What a route's path names, parsed from its `{customer_id}` and `{subscription_id}`.
pub(crate) trait Scope: Sized + Copy + Send {
    /// The scope, from the parsed ids (each `None` when the path has no such parameter).
    ///
    /// # Errors
    ///
    /// When a parameter the scope needs is missing (a route declared with the wrong scope).
    fn of(
        customer: Option<CustomerId>,
        subscription: Option<SubscriptionId>,
    ) -> Result<Self, ApiError>;

    /// The customer it names, if any (throttling per customer).
    fn customer(&self) -> Option<CustomerId>;

    /// The subscription it names, if any (fault rules per subscription, the journal).
    fn subscription(&self) -> Option<SubscriptionId>;
}

/// A route that names no customer (`/v1/customers`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoScope;

/// A route on a customer (`/v1/customers/{customer_id}/...`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerScope(pub(crate) CustomerId);

/// A route on a customer's subscription (`.../subscriptions/{subscription_id}/...`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscriptionScope(pub(crate) CustomerId, pub(crate) SubscriptionId);

fn missing_parameter() -> ApiError {
    ApiError::internal("a route lacks the path parameters of its scope")
}

impl Scope for NoScope {
    fn of(_: Option<CustomerId>, _: Option<SubscriptionId>) -> Result<Self, ApiError> {
        Ok(Self)
    }

    fn customer(&self) -> Option<CustomerId> {
        None
    }

    fn subscription(&self) -> Option<SubscriptionId> {
        None
    }
}

impl Scope for CustomerScope {
    fn of(customer: Option<CustomerId>, _: Option<SubscriptionId>) -> Result<Self, ApiError> {
        customer.map(Self).ok_or_else(missing_parameter)
    }

    fn customer(&self) -> Option<CustomerId> {
        Some(self.0)
    }

    fn subscription(&self) -> Option<SubscriptionId> {
        None
    }
}

impl Scope for SubscriptionScope {
    fn of(
        customer: Option<CustomerId>,
        subscription: Option<SubscriptionId>,
    ) -> Result<Self, ApiError> {
        match (customer, subscription) {
            (Some(customer), Some(subscription)) => Ok(Self(customer, subscription)),
            _ => Err(missing_parameter()),
        }
    }

    fn customer(&self) -> Option<CustomerId> {
        Some(self.0)
    }

    fn subscription(&self) -> Option<SubscriptionId> {
        Some(self.1)
    }
}

/// A request on a Partner Center route, admitted. Extracting it refuses, in this order, a request
/// that accepts nothing the service writes (406), an unauthenticated or unknown caller (401, 403),
/// a path whose ids are not GUIDs (400), a throttled one (429, as Partner Center's gateway), and
/// applies the fault rule that matches it, if any; so a refused request has no effect.
#[derive(Debug)]
pub(crate) struct PartnerRequest<S> {
    /// The calling partner.
    pub(crate) partner: TenantId,
    /// What the path names.
    pub(crate) scope: S,
    /// The route.
    pub(crate) route: Route,
    /// The request's ids, and what the journal and metrics learn of it.
    correlated: Correlated,
    /// How a registration this request starts is to end (a fault rule may make it fail).
    pub(crate) ending: RegistrationEnding,
}

impl<S: Scope> FromRequestParts<AppState> for PartnerRequest<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let correlated = parts.extensions.get::<Correlated>().cloned();
        if correlated
            .as_ref()
            .is_some_and(|c| c.negotiated.accepts_nothing())
        {
            return Err(ApiError::not_acceptable().into_response());
        }
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .and_then(|m| Route::of_template(m.as_str()))
            .ok_or_else(|| {
                ApiError::internal("a Partner Center route without its name").into_response()
            })?;
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (customer, subscription) = path_ids(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let scope = S::of(customer, subscription).map_err(IntoResponse::into_response)?;
        let correlated = correlated
            .ok_or_else(|| ApiError::internal("a request without its ids").into_response())?;
        let notes = &correlated.notes;
        if let Some(subscription) = scope.subscription() {
            let _ = notes.subscription.set(subscription);
        }
        let partner = caller.partner.tenant_id;
        if let Err(retry_after) =
            state
                .throttle()
                .admit(route, partner, scope.customer(), std::time::Instant::now())
        {
            state.metrics().throttled(route.name());
            tracing::info!(route = route.name(), retry_after, "throttled");
            return Err(throttled(retry_after));
        }
        let mut ending = RegistrationEnding::Registered;
        if let Some(effect) = state.faults().pick(route, partner, scope.subscription()) {
            let _ = notes.fault.set(effect.label());
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
                    let _ = notes.drop_response.set(());
                }
                Effect::FailRegistration => ending = RegistrationEnding::Failed,
            }
        }
        Ok(Self {
            partner,
            scope,
            route,
            correlated,
            ending,
        })
    }
}

impl PartnerRequest<CustomerScope> {
    /// The customer, as the calling partner addresses it.
    pub(crate) fn customer_key(&self) -> CustomerKey {
        CustomerKey {
            partner: self.partner,
            customer: self.scope.0,
        }
    }
}

impl PartnerRequest<SubscriptionScope> {
    /// The subscription, as the calling partner addresses it.
    pub(crate) fn key(&self) -> SubscriptionKey {
        SubscriptionKey {
            partner: self.partner,
            customer: self.scope.0,
            subscription: self.scope.1,
        }
    }
}

impl<S> PartnerRequest<S> {
    /// The idempotency key of this request, when the client sent an `MS-RequestId`: the key is
    /// (partner, request id, method, normalised path), kept for the configured retention.
    pub(crate) fn idempotency(
        &self,
        state: &AppState,
        method: &str,
        path: String,
        now: Timestamp,
    ) -> Option<Idempotency> {
        let ids = &self.correlated.ids;
        ids.client_request_id.then(|| Idempotency {
            request_id: String::from_utf8_lossy(ids.request_id.as_bytes()).into_owned(),
            method: method.to_owned(),
            path,
            expires_at: now.saturating_add(state.idempotency_retention()),
        })
    }

    /// The outcome of this recorded request, noting in the log, the journal and the metrics when
    /// it is a repeat's stored outcome.
    pub(crate) fn replayed<T>(&self, state: &AppState, recorded: Recorded<T>) -> T {
        if recorded.replayed {
            tracing::info!("repeated MS-RequestId: answering with the first request's outcome");
            state.metrics().replay(self.route.name());
            let _ = self.correlated.notes.replayed.set(());
        }
        recorded.outcome
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

/// The `{customer_id}` and `{subscription_id}` of a route, when it has them, parsed into GUIDs: 400
/// (code 2000) naming the parameter that is not one.
async fn path_ids(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(Option<CustomerId>, Option<SubscriptionId>), ApiError> {
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
    Ok((customer, subscription))
}
