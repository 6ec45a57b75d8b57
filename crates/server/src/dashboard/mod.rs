//! The operator's dashboard: server-rendered pages under `/admin/` to look at partners,
//! customers, subscriptions, carts and orders, settle manual registrations and orders, read the
//! request journal and the fault rules in force.
//!
//! On with the admin API (an admin token configured); without one its paths are unknown routes.
//! It is not Partner Center's API: not in the OpenAPI document, and like the admin API not in the
//! request journal or the request metrics.
//!
//! - `session`: signing in with the admin token, the signed session cookie, and the checks every
//!   form post passes (same origin, the session's CSRF token).
//! - `pages`: the handlers, one per page and per button.
//! - `views`: the HTML (maud, escaped throughout), one small inline stylesheet and no script.
//!
//! Every response carries headers that keep the pages out of frames, caches and `Referer`s and
//! allow nothing but the service's own resources and the inline stylesheet.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use partner_center_model::Timestamp;

use crate::error::ApiError;
use crate::{App, AppState};

mod pages;
mod session;
mod views;

pub(crate) use session::Sessions;

/// The dashboard's paths.
pub(crate) mod paths {
    use partner_center_domain::{CustomerKey, SubscriptionKey};
    use partner_center_model::TenantId;

    /// The start page, the partners (`/admin/` arrives as this, as every trailing slash is cut).
    pub(crate) const ROOT: &str = "/admin";
    /// `GET`: the sign-in form; `POST`: sign in.
    pub(crate) const SIGN_IN: &str = "/admin/signin";
    /// `POST`: sign out.
    pub(crate) const SIGN_OUT: &str = "/admin/signout";
    /// A partner's customers.
    pub(crate) const PARTNER: &str = "/admin/partners/{tenant}";
    /// A customer's subscriptions, carts and orders.
    pub(crate) const CUSTOMER: &str = "/admin/partners/{tenant}/customers/{customer}";
    /// A subscription, its registrations and its requests.
    pub(crate) const SUBSCRIPTION: &str =
        "/admin/partners/{tenant}/customers/{customer}/subscriptions/{subscription}";
    /// `POST`: complete the registration in progress.
    pub(crate) const ADVANCE: &str =
        "/admin/partners/{tenant}/customers/{customer}/subscriptions/{subscription}/advance";
    /// `POST`: end the registration in progress in failure.
    pub(crate) const FAIL: &str =
        "/admin/partners/{tenant}/customers/{customer}/subscriptions/{subscription}/fail";
    /// `POST`: provision a pending order.
    pub(crate) const ADVANCE_ORDER: &str =
        "/admin/partners/{tenant}/customers/{customer}/orders/{order}/advance";
    /// The request journal, `?correlationId=` to filter.
    pub(crate) const JOURNAL: &str = "/admin/journal";
    /// The fault rules in force.
    pub(crate) const FAULTS: &str = "/admin/faults";

    /// The page of a partner ([`PARTNER`]).
    pub(crate) fn partner(tenant: TenantId) -> String {
        format!("/admin/partners/{tenant}")
    }

    /// The page of a customer ([`CUSTOMER`]).
    pub(crate) fn customer(key: CustomerKey) -> String {
        format!("/admin/partners/{}/customers/{}", key.partner, key.customer)
    }

    /// The page of a subscription ([`SUBSCRIPTION`]).
    pub(crate) fn subscription(key: &SubscriptionKey) -> String {
        format!(
            "/admin/partners/{}/customers/{}/subscriptions/{}",
            key.partner, key.customer, key.subscription
        )
    }

    /// [`ADVANCE`] for a subscription.
    pub(crate) fn advance(key: &SubscriptionKey) -> String {
        format!("{}/advance", subscription(key))
    }

    /// [`FAIL`] for a subscription.
    pub(crate) fn fail(key: &SubscriptionKey) -> String {
        format!("{}/fail", subscription(key))
    }

    /// [`ADVANCE_ORDER`] for an order.
    pub(crate) fn advance_order(key: CustomerKey, order: &str) -> String {
        format!(
            "{}/orders/{}/advance",
            customer(key),
            super::views::encode(order)
        )
    }
}

/// The dashboard's routes, with its security headers.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ROOT, get(pages::partners))
        .route(
            paths::SIGN_IN,
            get(pages::sign_in_form).post(pages::sign_in),
        )
        .route(paths::SIGN_OUT, post(pages::sign_out))
        .route(paths::PARTNER, get(pages::partner))
        .route(paths::CUSTOMER, get(pages::customer))
        .route(paths::SUBSCRIPTION, get(pages::subscription))
        .route(paths::ADVANCE, post(pages::advance))
        .route(paths::FAIL, post(pages::fail))
        .route(paths::ADVANCE_ORDER, post(pages::advance_order))
        .route(paths::JOURNAL, get(pages::journal))
        .route(paths::FAULTS, get(pages::faults))
        .layer(axum::middleware::map_response(security_headers))
}

/// The process's dashboard sessions.
fn sessions(state: &AppState) -> &Sessions {
    &state.inner.dashboard
}

/// Only the service's own resources and the inline stylesheet; no framing, no caching, no
/// `Referer` to other sites (the paths hold ids).
async fn security_headers(mut response: Response) -> Response {
    const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                       script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on the pages' own form posts,
    // which the origin check must refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A page that could not be shown: its status and what to tell the operator.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    message: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// The ServiceFault's status and description; an internal cause is logged here, never shown.
impl From<ApiError> for Problem {
    fn from(err: ApiError) -> Self {
        err.log_cause();
        Self::new(err.status(), err.fault().description.clone())
    }
}

impl From<partner_center_store::StoreError> for Problem {
    fn from(err: partner_center_store::StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.status, views::problem(self.status, &self.message)).into_response()
    }
}

impl App {
    /// A `Cookie` header value with a dashboard session this process signed, valid until
    /// `expires` (which may be past): what signing in sets, for tests of expiry.
    #[doc(hidden)]
    #[must_use]
    pub fn dashboard_session_cookie(&self, expires: Timestamp) -> String {
        let expires = u64::try_from(expires.as_millis() / 1000).unwrap_or(0);
        let session = sessions(&self.state).sign(expires, "test".to_owned());
        let set_cookie = sessions(&self.state).set_cookie(&session);
        let pair = set_cookie.to_str().unwrap_or_default();
        pair.split(';').next().unwrap_or_default().to_owned()
    }
}
