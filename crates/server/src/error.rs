//! The service's one error type, and how every error becomes a ServiceFault response.
//!
//! Handlers and extractors return [`ApiError`] and use `?`; a [`StoreError`] converts into a 503
//! when the database is unreachable or overloaded (worth retrying) and a 500 otherwise, whose cause
//! is logged once, here, and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use partner_center_model::fault::codes;
use partner_center_model::{CustomerId, ServiceFault, SubscriptionId};
use partner_center_store::StoreError;

use crate::render::reply;

/// An error answered with a ServiceFault body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    fault: ServiceFault,
    /// The internal cause of a 500 or 503, for the log only.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    /// An error with this status, code and description.
    #[must_use]
    pub fn new(status: StatusCode, code: i64, description: impl Into<String>) -> Self {
        Self {
            status,
            fault: ServiceFault::new(code, description),
            cause: None,
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body.
    #[must_use]
    pub fn fault(&self) -> &ServiceFault {
        &self.fault
    }

    /// 400, code 2000: a path parameter that is not a GUID.
    pub(crate) fn not_a_guid(parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            format!("{parameter} must be a GUID."),
        )
    }

    /// 400, code 2000: an unusable request header.
    pub(crate) fn invalid_header(name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_INPUT,
            format!("The {name} header {why}."),
        )
    }

    /// 401, code 800001: no bearer token.
    pub(crate) fn token_missing() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_MISSING,
            "Partner Token missing in request context.",
        )
    }

    /// 401, code 400: a token that does not validate. Says nothing about the token.
    pub(crate) fn token_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::ACCESS_DENIED,
            "Access denied. The bearer token is not valid for this service.",
        )
    }

    /// 401, code 900421: an App+User token without multi-factor authentication.
    pub(crate) fn mfa_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::MFA_REQUIRED,
            "Multi-factor authentication is required: the App+User token does not show MFA in its amr claim.",
        )
    }

    /// 403, code 2032: a valid token whose tenant is no partner here.
    pub(crate) fn unknown_partner() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "Access denied. The token's tenant is not a partner of this service.",
        )
    }

    /// 403, code 900150: an App+User token without the delegated `user_impersonation` scope.
    pub(crate) fn scope_missing() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            codes::ROLE_NOT_ALLOWED,
            "The supplied role does not have the rights to perform the requested operation: the token lacks the user_impersonation scope.",
        )
    }

    /// 404, code 60003: the partner has no such customer. The same body whether or not another
    /// partner has it.
    pub(crate) fn customer_not_found(customer: CustomerId) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::CUSTOMER_NOT_FOUND,
            format!("Customer with id {customer} not found."),
        )
    }

    /// 404, code 20003: the customer has no such subscription.
    pub(crate) fn subscription_not_found(subscription: SubscriptionId) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::SUBSCRIPTION_NOT_FOUND,
            format!("Subscription with id {subscription} not found."),
        )
    }

    /// 404, code 1000: no such route.
    pub(crate) fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "The requested resource does not exist.",
        )
    }

    /// 405, code 0: a known path with another method.
    pub(crate) fn method_not_allowed(method: &axum::http::Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::UNSPECIFIED,
            format!("The requested resource does not support http method '{method}'."),
        )
    }

    /// 406, code 0: the `Accept` header allows none of the service's media types.
    pub(crate) fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            codes::UNSPECIFIED,
            "The requested media type is not supported: accept application/json, text/json, application/xml or text/xml.",
        )
    }

    /// 413, code 0: a request body over `limit` bytes.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::UNSPECIFIED,
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// 431, code 0: a request line and headers over `limit` bytes.
    pub(crate) fn head_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            codes::UNSPECIFIED,
            format!("The request line and headers are larger than {limit} bytes."),
        )
    }

    /// 408, code 0: the client did not send its request body in time.
    pub(crate) fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::UNSPECIFIED,
            "The request body was not received in time.",
        )
    }

    /// 503, code 0: the database cannot be reached or is overloaded; worth retrying (the response
    /// says when, in `Retry-After`). `cause` is logged, not sent.
    pub(crate) fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            fault: ServiceFault::new(
                codes::UNSPECIFIED,
                "The service is temporarily unavailable. Try again later.",
            ),
            cause: Some(cause.into()),
        }
    }

    /// 500, code 800003: an internal failure; `cause` is logged, not sent.
    pub(crate) fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            fault: ServiceFault::new(
                codes::UNEXPECTED,
                "Unexpected service error. Try again later.",
            ),
            cause: Some(cause.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::unavailable(err)
        } else {
            Self::internal(err)
        }
    }
}

impl ApiError {
    /// Logs the internal cause, if there is one: once, where the error is answered.
    pub(crate) fn log_cause(&self) {
        match &self.cause {
            Some(cause) if self.status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %cause, "request failed: the database is unavailable");
            }
            Some(cause) => tracing::error!(error = %cause, "request failed"),
            None => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let mut response = reply(self.status, self.fault);
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
