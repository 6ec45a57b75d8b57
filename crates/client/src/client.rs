//! The client: configuration, and how one call is made (headers, retries, token refresh, decoding).

use std::sync::Arc;
use std::time::Duration;

use partner_center_model::headers::{MS_CORRELATION_ID, MS_REQUEST_ID};
use partner_center_model::{MediaType, ServiceFault, XmlForm};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::credentials::{StaticToken, TokenProvider};
use crate::error::{ApiError, Error};
use crate::operations::CustomerCollection;
use crate::retry::RetryPolicy;

/// Partner Center's API root.
pub const PARTNER_CENTER: &str = "https://api.partnercenter.microsoft.com";
/// The API version the SDK speaks.
pub const API_VERSION: &str = "v1";

/// Ids a call is made with. By default each call gets a new `MS-RequestId` (kept across its
/// retries) and a new `MS-CorrelationId`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    request_id: Option<String>,
    correlation_id: Option<String>,
}

impl RequestContext {
    /// An empty context: fresh ids for every call.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls with this `MS-RequestId`: a POST repeated with it is answered as the first was,
    /// without a second effect (use it to retry across process restarts).
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Calls with this `MS-CorrelationId`, to find them together in logs.
    #[must_use]
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base_url: String,
    tokens: Arc<dyn TokenProvider>,
    retry: RetryPolicy,
    media: MediaType,
    locale: String,
}

/// A client of Partner Center's subscription-registration and sandbox-activation API: what
/// `IAggregatePartner` is in the .NET SDK. Cheap to clone; share one.
#[derive(Clone)]
pub struct PartnerCenter {
    pub(crate) inner: Arc<Inner>,
    pub(crate) context: RequestContext,
}

impl std::fmt::Debug for PartnerCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerCenter")
            .field("base_url", &self.inner.base_url)
            .field("retry", &self.inner.retry)
            .field("media", &self.inner.media)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PartnerCenter`].
pub struct PartnerCenterBuilder {
    base_url: String,
    tokens: Option<Arc<dyn TokenProvider>>,
    retry: RetryPolicy,
    media: MediaType,
    timeout: Duration,
    locale: String,
    root_certificates: Vec<Vec<u8>>,
}

impl std::fmt::Debug for PartnerCenterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerCenterBuilder")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl PartnerCenterBuilder {
    /// The API root: Partner Center's by default; e.g. `http://127.0.0.1:8080` for a local service.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Call with this bearer token.
    #[must_use]
    pub fn token(self, token: impl Into<String>) -> Self {
        self.token_provider(StaticToken::new(token))
    }

    /// Call with the tokens of this provider ([`ClientCredentials`](crate::ClientCredentials), or
    /// the caller's own for App+User).
    #[must_use]
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.tokens = Some(Arc::new(provider));
        self
    }

    /// How calls are retried (default: 3 retries after 0.5, 1.5 and 3.5 s).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Ask for XML (`application/xml`) instead of JSON.
    #[must_use]
    pub fn xml(mut self) -> Self {
        self.media = MediaType::Xml;
        self
    }

    /// How long one attempt may take (default: 3 minutes, as the .NET SDK).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `X-Locale` (default `en-US`).
    #[must_use]
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }

    /// Also trust the root certificates of this PEM bundle for `https://` base URLs, beside the
    /// system's: e.g. the certificate authority of a local `partner-center serve --tls-cert`.
    #[must_use]
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without credentials, with a base URL that is not http(s), with a root
    /// certificate that is not PEM, or when the HTTP client cannot be built.
    pub fn build(self) -> Result<PartnerCenter, Error> {
        let tokens = self.tokens.ok_or_else(|| {
            Error::Config("no credentials: give a token or a token provider".into())
        })?;
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "the base URL `{}` is not an http(s) URL",
                self.base_url
            )));
        }
        let mut roots = Vec::new();
        for pem in &self.root_certificates {
            roots.extend(
                reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| Error::Config(format!("a root certificate is not PEM: {e}")))?,
            );
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!(
                "partner-center-rust-sdk/",
                env!("CARGO_PKG_VERSION")
            ))
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(PartnerCenter {
            inner: Arc::new(Inner {
                http,
                base_url: self.base_url,
                tokens,
                retry: self.retry,
                media: self.media,
                locale: self.locale,
            }),
            context: RequestContext::default(),
        })
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl PartnerCenter {
    /// A builder, with Partner Center's API root.
    #[must_use]
    pub fn builder() -> PartnerCenterBuilder {
        PartnerCenterBuilder {
            base_url: PARTNER_CENTER.to_owned(),
            tokens: None,
            retry: RetryPolicy::default(),
            media: MediaType::Json,
            timeout: Duration::from_secs(180),
            locale: "en-US".to_owned(),
            root_certificates: Vec::new(),
        }
    }

    /// This client, calling with `context`'s ids.
    #[must_use]
    pub fn with(&self, context: RequestContext) -> Self {
        Self {
            inner: self.inner.clone(),
            context,
        }
    }

    /// The partner's customers.
    #[must_use]
    pub fn customers(&self) -> CustomerCollection<'_> {
        CustomerCollection { partner: self }
    }

    /// The catalog's products: discovery (products, SKUs, availabilities) and the inventory check.
    #[must_use]
    pub fn products(&self) -> crate::products::ProductCollection<'_> {
        crate::products::ProductCollection { partner: self }
    }

    /// The API root.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The absolute URL of a `Location` the service answered: a relative one is relative to the
    /// base URL plus the API version, as the .NET SDK resolves it.
    ///
    /// ```
    /// # use partner_center_client::PartnerCenter;
    /// let partner = PartnerCenter::builder().base_url("http://127.0.0.1:8080").token("t").build().unwrap();
    /// assert_eq!(
    ///     partner.resolve("/customers/c/subscriptions/s/registrationstatus"),
    ///     "http://127.0.0.1:8080/v1/customers/c/subscriptions/s/registrationstatus"
    /// );
    /// assert_eq!(partner.resolve("https://elsewhere.example/x"), "https://elsewhere.example/x");
    /// ```
    #[must_use]
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with(&format!("/{API_VERSION}/")) {
            format!("{}{location}", self.inner.base_url)
        } else {
            format!(
                "{}/{API_VERSION}/{}",
                self.inner.base_url,
                location.trim_start_matches('/')
            )
        }
    }

    /// Makes one call, with retries; see [`RetryPolicy`].
    pub(crate) async fn call(&self, method: Method, url: &str) -> Result<Answer, Error> {
        self.call_with(method, url, &[]).await
    }

    /// [`Self::call`], with a JSON body.
    pub(crate) async fn call_json<T: serde::Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        body: &T,
    ) -> Result<Answer, Error> {
        let body = serde_json::to_string(body).map_err(|e| Error::Decode(e.to_string()))?;
        self.send(method, url, &[], Some(&body)).await
    }

    /// [`Self::call`], with more headers (a link's, such as `MS-ContinuationToken`).
    pub(crate) async fn call_with(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<Answer, Error> {
        self.send(method, url, headers, None).await
    }

    /// One call, with retries: each attempt sends the same ids, headers and body.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Result<Answer, Error> {
        let request_id = self
            .context
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let correlation_id = self
            .context
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let retry = &self.inner.retry;
        let mut attempt = 0;
        let mut refresh = false;
        let mut refreshed = false;
        loop {
            let token = self.inner.tokens.token(refresh).await?;
            refresh = false;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url)
                .bearer_auth(token)
                .header(ACCEPT, self.inner.media.essence())
                .header(MS_REQUEST_ID, &request_id)
                .header(MS_CORRELATION_ID, &correlation_id)
                .header("MS-PartnerCenter-Client", "Partner Center Rust SDK")
                .header("MS-SdkVersion", env!("CARGO_PKG_VERSION"))
                .header("X-Locale", &self.inner.locale);
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_owned());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    response.text().await.map(|body| Answer {
                        status,
                        headers,
                        body,
                    })
                }
                Err(err) => Err(err),
            };
            let answer = match outcome {
                Ok(answer) => answer,
                Err(err) => {
                    // The connection failed or broke: the same request, with the same
                    // MS-RequestId, after a pause.
                    if let Some(delay) = retry.delay(attempt) {
                        tracing::debug!(url, attempt, error = %err, "network error; retrying");
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(Error::Network {
                        url: url.to_owned(),
                        message: describe(&err),
                        request_id,
                    });
                }
            };
            if (200..300).contains(&answer.status) {
                return Ok(answer);
            }
            if answer.status == 401 && !refreshed && self.inner.tokens.can_refresh() {
                // The token may have expired or been revoked: once, with a fresh one.
                refreshed = true;
                refresh = true;
                continue;
            }
            let retry_after = retry_after(&answer.headers);
            if RetryPolicy::retries_status(answer.status)
                && let Some(delay) = retry.delay(attempt)
            {
                // A 429 is retried when the service says it may be, if that is not too far off.
                let wait = if answer.status == 429 {
                    retry_after.unwrap_or(delay)
                } else {
                    delay
                };
                if answer.status != 429 || wait <= retry.max_wait_for_retry_after() {
                    tracing::debug!(url, attempt, status = answer.status, "retrying");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Err(self.error(answer, request_id, correlation_id, retry_after));
        }
    }

    fn error(
        &self,
        answer: Answer,
        request_id: String,
        correlation_id: String,
        retry_after: Option<Duration>,
    ) -> Error {
        let xml = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(MediaType::from_content_type)
            .is_some_and(MediaType::is_xml);
        let fault = if xml {
            ServiceFault::from_xml(&answer.body).ok()
        } else {
            serde_json::from_str::<ServiceFault>(&answer.body).ok()
        };
        Error::Api(Box::new(ApiError {
            status: answer.status,
            fault,
            body: answer.body,
            request_id,
            correlation_id,
            retry_after,
        }))
    }

    /// Decodes a body in the media type asked for.
    pub(crate) fn decode<T: DeserializeOwned + XmlForm>(
        &self,
        answer: &Answer,
    ) -> Result<T, Error> {
        let xml = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(MediaType::from_content_type)
            .map_or(self.inner.media.is_xml(), MediaType::is_xml);
        if xml {
            T::from_xml(&answer.body).map_err(|e| Error::Decode(e.to_string()))
        } else {
            serde_json::from_str(&answer.body).map_err(|e| Error::Decode(e.to_string()))
        }
    }

    /// The URL of a path (built by [`partner_center_model::paths`]) on the API root.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base_url)
    }
}

/// A transport error with its causes ("connection refused"), without the URL (said already).
pub(crate) fn describe(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    if let Some(url) = err.url() {
        message = message.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `Retry-After` in seconds (the form Partner Center's gateway uses).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
