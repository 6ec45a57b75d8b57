//! What can go wrong, with everything needed to report it to Partner Center support.

use std::time::Duration;

use partner_center_model::{RegistrationStatus, ServiceFault};

/// What kind of failure an [`Error::Api`] is, as the .NET SDK's `PartnerErrorCategory` classifies
/// HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// 400: the input was refused (malformed, or a business rule).
    BadInput,
    /// 401: not authenticated.
    Unauthorized,
    /// 403: authenticated, not allowed.
    Forbidden,
    /// 404: no such resource.
    NotFound,
    /// 405: the operation is not supported here.
    InvalidOperation,
    /// 406: the media type asked for is not supported.
    UnsupportedDataFormat,
    /// 408: the request timed out.
    RequestTimeout,
    /// 409: the resource exists, or conflicts.
    AlreadyExists,
    /// 429: throttled.
    TooManyRequests,
    /// 503: the service is busy.
    ServerBusy,
    /// 504: a gateway timed out.
    GatewayTimeout,
    /// Any other failure of the service.
    ServerError,
}

impl ErrorCategory {
    /// The category of an HTTP status.
    #[must_use]
    pub fn of(status: u16) -> Self {
        match status {
            400 => Self::BadInput,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::InvalidOperation,
            406 => Self::UnsupportedDataFormat,
            408 => Self::RequestTimeout,
            409 => Self::AlreadyExists,
            429 => Self::TooManyRequests,
            503 => Self::ServerBusy,
            504 => Self::GatewayTimeout,
            _ => Self::ServerError,
        }
    }
}

/// An error answer of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The ServiceFault, when the answer carried one.
    pub fault: Option<ServiceFault>,
    /// The answer's body when it was not a ServiceFault (a gateway's 429, a proxy's page).
    pub body: String,
    /// `MS-RequestId` of the call (the same across its retries).
    pub request_id: String,
    /// `MS-CorrelationId` of the call.
    pub correlation_id: String,
    /// `Retry-After`, when the service said when to come back.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The ServiceFault's code, if there was one.
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        self.fault.as_ref().map(|f| f.code)
    }

    /// What the service said went wrong.
    #[must_use]
    pub fn description(&self) -> &str {
        self.fault
            .as_ref()
            .map_or(self.body.as_str(), |f| f.description.as_str())
    }

    /// The kind of failure.
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        ErrorCategory::of(self.status)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Partner Center answered {}", self.status)?;
        if let Some(code) = self.code() {
            write!(f, " (code {code})")?;
        }
        let description = self.description().trim();
        if !description.is_empty() {
            write!(f, ": {description}")?;
        }
        write!(
            f,
            " [MS-RequestId {}, MS-CorrelationId {}]",
            self.request_id, self.correlation_id
        )
    }
}

/// An SDK error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The service could not be reached, or the connection broke (after the retries).
    #[error("cannot reach Partner Center at {url}: {message} [MS-RequestId {request_id}]")]
    Network {
        /// What was called.
        url: String,
        /// Why it failed.
        message: String,
        /// `MS-RequestId` of the call.
        request_id: String,
    },
    /// No token could be obtained.
    #[error("cannot obtain an access token: {0}")]
    Authentication(String),
    /// The answer could not be read.
    #[error("unexpected answer from Partner Center: {0}")]
    Decode(String),
    /// `register_and_wait` gave up.
    #[error("the registration did not complete within {waited:?}; it was last {last_status}")]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// The last status read.
        last_status: RegistrationStatus,
    },
    /// [`wait_for_order`](crate::OrderOperations::wait_for_order) gave up: the order is still
    /// `pending`.
    #[error("the order {order} was still pending after {waited:?}")]
    OrderTimeout {
        /// How long it waited.
        waited: Duration,
        /// The order.
        order: String,
    },
    /// The client is misconfigured (a malformed base URL, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// The service's error answer, if that is what this is.
    #[must_use]
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }
}
