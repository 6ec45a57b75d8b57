//! Partner Center's wire conventions that apply to every request: path normalisation, the
//! correlation headers, body limits and JSON rendering.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};

use axum::extract::{FromRequest, MatchedPath, Request};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::FutureExt as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use partner_center_model::MediaType;
use partner_center_model::headers::{
    MAX_ID_HEADER_LEN, MS_CORRELATION_ID, MS_CV, MS_REQUEST_ID, MS_SERVER_ID,
};
use tower::{Layer, Service, ServiceExt as _};
use tracing::Instrument as _;

use crate::AppState;
use crate::error::ApiError;
use crate::negotiate::{NotAcceptable, negotiate};
use crate::ops::RequestNotes;
use crate::ops::journal::{self, Entry};
use crate::render::render;

/// Largest request body accepted (and ignored) on any route.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest Correlation Vector (v1) accepted and written.
const MAX_CV_LEN: usize = 63;

static REQUEST_ID: HeaderName = HeaderName::from_static(MS_REQUEST_ID);
static CORRELATION_ID: HeaderName = HeaderName::from_static(MS_CORRELATION_ID);
static CV: HeaderName = HeaderName::from_static(MS_CV);
static SERVER_ID: HeaderName = HeaderName::from_static(MS_SERVER_ID);

/// The outcome of content negotiation, in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated(pub(crate) Result<MediaType, NotAcceptable>);

impl Negotiated {
    /// Whether the request accepts none of the service's media types: on the Partner Center
    /// routes, it is refused with 406 before anything else happens.
    pub(crate) fn accepts_nothing(&self) -> bool {
        self.0.is_err()
    }
}

/// What the correlation layer gives the handlers, as one extension of the request (one insertion
/// into its extensions instead of three) and one allocation (cloning it shares it: the ids'
/// header values are not cloned one by one, and go back into the response without a copy).
#[derive(Debug, Clone)]
pub(crate) struct Correlated(Arc<Correlation>);

/// The correlation of one request: its ids, the media type of its answer, and its notes.
#[derive(Debug)]
pub(crate) struct Correlation {
    /// The request's ids.
    pub(crate) ids: RequestIds,
    /// The media type of its answer.
    pub(crate) negotiated: Negotiated,
    /// What the journal and metrics learn of it.
    pub(crate) notes: RequestNotes,
}

impl std::ops::Deref for Correlated {
    type Target = Correlation;

    fn deref(&self) -> &Correlation {
        &self.0
    }
}

/// A response whose body fails before a byte is sent: the server closes the connection unanswered
/// (fault injection). `status` is only what the service's own journal and logs record.
pub(crate) fn dropped_connection(status: StatusCode) -> Response {
    let mut response = Response::new(Body::new(Dropped));
    *response.status_mut() = status;
    response
}

/// A body that fails at once.
struct Dropped;

impl http_body::Body for Dropped {
    type Data = Bytes;
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

/// Rewrites a request's path to its canonical form before routing, as ASP.NET would match it:
/// literal segments in any case (`/V1/Customers/...`), version `1.0` as `1`, and a trailing slash.
pub(crate) fn normalize_path(mut request: Request) -> Request {
    if let Some(path) = canonical_path(request.uri().path()) {
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// The literal segments of the Partner Center routes, matched in any case after the version (ids
/// are GUIDs, so none is mistaken for one).
const LITERALS: &[&str] = &[
    "customers",
    "subscriptions",
    "registrations",
    "registrationstatus",
    "activate",
    "carts",
    "checkout",
    "orders",
    "provisioningstatus",
    "lineitems",
    "activationlinks",
    "products",
    "skus",
    "availabilities",
    "extensions",
    "product",
    "checkinventory",
];

/// The canonical form of segment `index` of a path, when it is one of the literals matched in any
/// case (`versioned`: the path starts with a version the service serves).
fn canonical_segment(index: usize, segment: &str, versioned: bool) -> Option<&'static str> {
    if index == 1 {
        return (segment.eq_ignore_ascii_case("v1") || segment.eq_ignore_ascii_case("v1.0"))
            .then_some("v1");
    }
    if !versioned || index < 2 {
        return None;
    }
    LITERALS
        .iter()
        .find(|name| segment.eq_ignore_ascii_case(name))
        .copied()
}

/// The canonical form of `path`, or `None` when it already is canonical (the common case, which
/// allocates nothing).
fn canonical_path(path: &str) -> Option<String> {
    // Every rewrite needs an upper-case letter, a trailing slash or version `1.0`: a path without
    // them is canonical already (this check reads it once, where the rules split it and compare
    // each segment with every literal). The letters are looked for without stopping at the first,
    // which the compiler turns into a comparison of 16 bytes at a time.
    let upper = path
        .bytes()
        .fold(false, |upper, b| upper | b.is_ascii_uppercase());
    if !upper && (path.len() <= 1 || !path.ends_with('/')) && !path.starts_with("/v1.0") {
        return None;
    }
    rewritten_path(path)
}

/// [`canonical_path`] by its rules, segment by segment.
fn rewritten_path(path: &str) -> Option<String> {
    fn canonical(versioned: bool) -> impl Fn((usize, &str)) -> &str {
        move |(index, segment)| canonical_segment(index, segment, versioned).unwrap_or(segment)
    }
    let trimmed = match path.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => path,
    };
    let versioned = trimmed
        .split('/')
        .nth(1)
        .is_some_and(|version| canonical_segment(1, version, false).is_some());
    let unchanged = trimmed.len() == path.len()
        && trimmed
            .split('/')
            .enumerate()
            .all(|(index, segment)| canonical(versioned)((index, segment)) == segment);
    if unchanged {
        return None;
    }
    Some(
        trimmed
            .split('/')
            .enumerate()
            .map(canonical(versioned))
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// The ids of one request, as echoed on its response; handlers read them from the extensions.
#[derive(Debug, Clone)]
pub struct RequestIds {
    /// `MS-RequestId`, from the request or generated.
    pub request_id: HeaderValue,
    /// Whether the client sent `MS-RequestId` (only then can a POST be deduplicated).
    pub client_request_id: bool,
    /// `MS-CorrelationId`, from the request or generated.
    pub correlation_id: HeaderValue,
    /// `MS-CV` for the response: the request's vector extended, or a fresh one.
    pub cv: HeaderValue,
}

impl RequestIds {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let request_id = id_header(headers, &REQUEST_ID, "MS-RequestId")?;
        let correlation_id = id_header(headers, &CORRELATION_ID, "MS-CorrelationId")?;
        Ok(Self {
            client_request_id: request_id.is_some(),
            request_id: request_id.unwrap_or_else(new_guid_header),
            correlation_id: correlation_id.unwrap_or_else(new_guid_header),
            cv: response_cv(headers.get(&CV)),
        })
    }

    /// Fresh ids, for a request whose own could not be used.
    fn generated(headers: &HeaderMap) -> Self {
        Self {
            request_id: new_guid_header(),
            client_request_id: false,
            correlation_id: new_guid_header(),
            cv: response_cv(headers.get(&CV)),
        }
    }

    fn write(self, headers: &mut HeaderMap, server_id: &HeaderValue) {
        headers.insert(REQUEST_ID.clone(), self.request_id);
        headers.insert(CORRELATION_ID.clone(), self.correlation_id);
        headers.insert(CV.clone(), self.cv);
        headers.insert(SERVER_ID.clone(), server_id.clone());
    }
}

fn id_header(
    headers: &HeaderMap,
    name: &HeaderName,
    display: &str,
) -> Result<Option<HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_header(
            display,
            "must appear at most once",
        ));
    }
    if value.len() > MAX_ID_HEADER_LEN {
        return Err(ApiError::invalid_header(
            display,
            "must be at most 128 characters long",
        ));
    }
    if value.as_bytes().iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err(ApiError::invalid_header(
            display,
            "must not contain control characters",
        ));
    }
    Ok((!value.is_empty()).then(|| value.clone()))
}

/// Random bytes for the ids the service makes up (`MS-RequestId`, `MS-CorrelationId`, `MS-CV` when
/// the client sent none): unique, not secret. A per-thread wyrand generator, seeded from the
/// system's cryptographic generator, makes them without a system call per request.
fn random<const N: usize>() -> [u8; N] {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut seed = [0u8; 8];
            if aws_lc_rs::rand::fill(&mut seed).is_err() {
                seed = uuid::Uuid::new_v4().as_u64_pair().0.to_le_bytes();
            }
            u64::from_le_bytes(seed)
        });
    }
    let mut bytes = [0u8; N];
    STATE.with(|state| {
        for chunk in bytes.chunks_mut(8) {
            let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(next);
            let wide = u128::from(next).wrapping_mul(u128::from(next ^ 0xe703_7ed1_a0b4_28db));
            let word = ((wide >> 64) as u64) ^ (wide as u64);
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
    });
    bytes
}

fn new_guid_header() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Builder::from_random_bytes(random())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut buf);
    HeaderValue::from_str(text)
        .unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-0000-0000-000000000000"))
}

/// Whether `cv` is a Correlation Vector v1: 16 base64 characters, then one or more `.<uint32>`
/// extensions, at most 63 characters in all.
#[must_use]
pub fn is_valid_cv(cv: &[u8]) -> bool {
    if cv.len() > MAX_CV_LEN || cv.len() < 18 {
        return false;
    }
    let (base, rest) = cv.split_at(16);
    if !base
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return false;
    }
    rest.strip_prefix(b".").is_some_and(|extensions| {
        extensions.split(|b| *b == b'.').all(|ext| {
            !ext.is_empty()
                && ext.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(ext).is_ok_and(|s| s.parse::<u32>().is_ok())
        })
    })
}

/// The response's vector: the request's extended with `.0` when valid (kept as is if extending would
/// pass the length limit), else a fresh `<16 base64 characters>.0`.
#[must_use]
pub fn response_cv(incoming: Option<&HeaderValue>) -> HeaderValue {
    if let Some(incoming) = incoming.filter(|v| is_valid_cv(v.as_bytes())) {
        if incoming.len() + 2 > MAX_CV_LEN {
            return incoming.clone();
        }
        let mut extended = Vec::with_capacity(incoming.len() + 2);
        extended.extend_from_slice(incoming.as_bytes());
        extended.extend_from_slice(b".0");
        if let Ok(value) = HeaderValue::from_bytes(&extended) {
            return value;
        }
    }
    // Written on the stack: 12 random bytes are 16 base64 characters, without padding.
    let mut cv = *b"AAAAAAAAAAAAAAAA.0";
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(random::<12>(), &mut cv[..16]);
    HeaderValue::from_bytes(&cv).unwrap_or_else(|_| HeaderValue::from_static("AAAAAAAAAAAAAAAA.0"))
}

/// The correlation layer on every route (see [`correlate`]); a panic in the route is caught
/// inside it, so its 500 ServiceFault gets the usual headers too.
#[derive(Debug, Clone)]
pub(crate) struct CorrelateLayer {
    state: AppState,
}

impl CorrelateLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for CorrelateLayer {
    type Service = Correlate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Correlate {
            inner,
            state: self.state.clone(),
        }
    }
}

/// A route with the correlation layer around it: one service and one boxed future a request, where
/// `axum::middleware::from_fn` and a separate panic-catching layer took two of each and a boxed
/// clone of the route.
#[derive(Debug, Clone)]
pub(crate) struct Correlate<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Correlate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service made ready is the one that serves; a clone stays for the next request.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(correlate(state, request, ready).await) })
    }
}

/// A panic of a route, as its answer: a 500 ServiceFault (the panic's message is logged, never sent).
fn panicked(panic: &(dyn Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// Reads (or makes) the request's ids, refuses unusable ones and oversized bodies, runs the route
/// (a panic answered as a 500 ServiceFault), renders its body in the negotiated media type, and
/// writes `MS-RequestId`, `MS-CorrelationId`, `MS-CV` and `MS-ServerId` on the response, errors
/// included; then the metrics and the journal learn of it.
async fn correlate<S>(state: AppState, mut request: Request, route: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (ids, rejection) = match RequestIds::from_headers(request.headers()) {
        Ok(ids) => (ids, None),
        Err(err) => (RequestIds::generated(request.headers()), Some(err)),
    };
    let max_head = state.limits().max_header_bytes;
    let rejection = rejection
        .or_else(|| head_too_large(&request, max_head).then(|| ApiError::head_too_large(max_head)))
        .or_else(|| {
            declared_too_large(request.headers())
                .then(|| ApiError::payload_too_large(MAX_BODY_BYTES))
        });
    let negotiated = negotiate(accept_header(request.headers()).as_deref());
    // Routing happened before this layer: the matched route template, a bounded label (shared,
    // not copied).
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route_label = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %path,
        route = %route_label,
        request_id = ids.request_id.to_str().unwrap_or("?"),
        correlation_id = ids.correlation_id.to_str().unwrap_or("?"),
        partner = tracing::field::Empty,
    );
    let correlated = Correlated(Arc::new(Correlation {
        ids,
        negotiated: Negotiated(negotiated),
        notes: RequestNotes::default(),
    }));
    // When it arrived (the journal's time), and the clock its latency is measured on.
    let (arrived, started) = (journal::Time::now(), Instant::now());
    let mut response = match rejection {
        Some(err) => err.into_response(),
        None => {
            request.extensions_mut().insert(correlated.clone());
            match AssertUnwindSafe(route.oneshot(request))
                .catch_unwind()
                .instrument(span.clone())
                .await
            {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(panic) => panicked(panic.as_ref()),
            }
        }
    };
    // A request that accepts nothing the service writes gets its error in JSON.
    render(&mut response, negotiated.unwrap_or(MediaType::Json));
    // The route and its request are done with the correlation: it is this layer's alone again
    // (unless a handler kept a copy), so its notes and ids are taken, not copied.
    let Correlation { ids, notes, .. } =
        Arc::try_unwrap(correlated.0).unwrap_or_else(|shared| Correlation {
            ids: shared.ids.clone(),
            negotiated: shared.negotiated,
            notes: shared.notes.clone(),
        });
    if notes.drop_response.get().is_some() {
        // A fault rule: the request had its effect; the client never hears of it.
        *response.body_mut() = Body::new(Dropped);
    }
    // `/admin` is the dashboard's start page (`/admin/` with its trailing slash cut).
    let operational = path == "/admin"
        || ["/admin/", "/metrics", "/healthz", "/readyz"]
            .iter()
            .any(|p| path.starts_with(p));
    // What the journal keeps of the ids, before they go into the response.
    let journaled = (!operational).then(|| {
        (
            header_text(&ids.request_id),
            header_text(&ids.correlation_id),
        )
    });
    ids.write(response.headers_mut(), state.server_id());
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            fault = notes.fault.get().copied(),
            "request served"
        );
    });
    if let Some((request_id, correlation_id)) = journaled {
        state
            .metrics()
            .request(route_label, method.as_str(), status, elapsed.as_secs_f64());
        state.journal().record(Entry {
            time: arrived,
            method,
            path,
            route: matched,
            partner: notes.partner.get().copied(),
            request_id,
            correlation_id,
            subscription: notes.subscription.get().copied(),
            status,
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            fault: notes.fault.get().copied(),
            replayed: notes.replayed.get().is_some(),
        });
    }
    response
}

/// A header's value as text (its bytes that are not UTF-8 replaced).
fn header_text(value: &HeaderValue) -> String {
    std::str::from_utf8(value.as_bytes()).map_or_else(
        |_| String::from_utf8_lossy(value.as_bytes()).into_owned(),
        str::to_owned,
    )
}

/// The `Accept` header; several are read as one list, as HTTP says.
fn accept_header(headers: &HeaderMap) -> Option<std::borrow::Cow<'_, str>> {
    let mut values = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(std::borrow::Cow::Borrowed(first));
    };
    let mut joined = format!("{first},{second}");
    for more in values {
        joined.push(',');
        joined.push_str(more);
    }
    Some(std::borrow::Cow::Owned(joined))
}

/// Whether the request line and headers take more than `limit` bytes. The HTTP parser refuses
/// heads far over the limit before they are read whole; this is the exact check.
fn head_too_large(request: &Request, limit: usize) -> bool {
    let line = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len())
        + request.method().as_str().len()
        + "  HTTP/1.1\r\n".len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    line + headers > limit
}

fn declared_too_large(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
}

/// Reads a request body whole: at most `limit` bytes (413 past it, even sent chunked) within the
/// body read timeout (408 past it); a body the client broke off is a 400.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    state: &AppState,
) -> Result<Bytes, ApiError> {
    let read = Limited::new(body, limit).collect();
    match tokio::time::timeout(state.limits().body_read_timeout, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::payload_too_large(limit))
        }
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            partner_center_model::fault::codes::INVALID_INPUT,
            "The request body could not be read.",
        )),
        Err(_) => Err(ApiError::body_timeout()),
    }
}

/// Reads and discards the request body: the three routes ignore bodies whatever their
/// `Content-Type` (clients send nothing, `null` or `"success"`), but one over
/// [`MAX_BODY_BYTES`] is refused with 413 even when it is sent chunked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IgnoredBody;

impl FromRequest<AppState> for IgnoredBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let body: Body = request.into_body();
        // Most requests have no body at all: nothing to read.
        if http_body::Body::is_end_stream(&body) {
            return Ok(Self);
        }
        read_body(body, MAX_BODY_BYTES, state).await.map(|_| Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_left_alone() {
        assert_eq!(
            canonical_path("/v1/customers/x/subscriptions/y/registrations"),
            None
        );
        assert_eq!(canonical_path("/healthz"), None);
        assert_eq!(canonical_path("/"), None);
    }

    #[test]
    fn literal_segments_versions_and_trailing_slashes_are_normalised() {
        assert_eq!(
            canonical_path("/V1/Customers/AbC/SUBSCRIPTIONS/dEf/RegistrationStatus").as_deref(),
            Some("/v1/customers/AbC/subscriptions/dEf/registrationstatus")
        );
        assert_eq!(
            canonical_path("/v1.0/customers/x/subscriptions/y/activate/").as_deref(),
            Some("/v1/customers/x/subscriptions/y/activate")
        );
        assert_eq!(canonical_path("/healthz/").as_deref(), Some("/healthz"));
        // Other versions stay as they are, and so 404.
        assert_eq!(
            canonical_path("/v2/customers/x/subscriptions/y/activate"),
            None
        );
        assert_eq!(canonical_path("/V2/customers").as_deref(), None);
    }

    #[test]
    fn the_shortcut_for_canonical_paths_agrees_with_the_rules() {
        let segments = [
            "",
            "v1",
            "V1",
            "v1.0",
            "V1.0",
            "v1.00",
            "v2",
            "customers",
            "Customers",
            "x",
            "X",
            "subscriptions",
            "registrationstatus",
            "RegistrationStatus",
            "activate",
            "healthz",
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
        ];
        let mut paths = vec![String::new(), "/".to_owned(), "//".to_owned()];
        for a in segments {
            for b in segments {
                for c in ["", "registrations", "Activate", "x"] {
                    for tail in ["", "/"] {
                        paths.push(format!("/{a}/{b}/{c}{tail}"));
                        paths.push(format!("/{a}/customers/{b}/subscriptions/{c}{tail}"));
                    }
                }
                paths.push(format!("/{a}{b}"));
            }
        }
        for path in &paths {
            assert_eq!(canonical_path(path), rewritten_path(path), "{path:?}");
        }
    }

    #[test]
    fn correlation_vectors_are_validated_and_extended() {
        assert!(is_valid_cv(b"fc1RI18AXEK3Tdmj.0"));
        assert!(is_valid_cv(b"iqOqN0FnaE2y0HcD.1.2.3"));
        for bad in [
            &b"fc1RI18AXEK3Tdmj"[..],
            b"fc1RI18AXEK3Tdm.0",
            b"fc1RI18AXEK3Tdmj.",
            b"fc1RI18AXEK3Tdmj.x",
            b"fc1RI18AXEK3Td-j.0",
            b"fc1RI18AXEK3Tdmj.99999999999",
        ] {
            assert!(!is_valid_cv(bad), "{}", String::from_utf8_lossy(bad));
        }
        let incoming = HeaderValue::from_static("fc1RI18AXEK3Tdmj.3");
        assert_eq!(response_cv(Some(&incoming)), "fc1RI18AXEK3Tdmj.3.0");
        let fresh = response_cv(Some(&HeaderValue::from_static("garbage")));
        assert!(
            is_valid_cv(fresh.as_bytes()) && fresh.to_str().unwrap().ends_with(".0"),
            "{fresh:?}"
        );
        assert_ne!(fresh, response_cv(None), "each fresh vector is random");
        let long = HeaderValue::from_str(&format!("fc1RI18AXEK3Tdmj{}", ".1".repeat(23))).unwrap();
        assert_eq!(long.len(), 62);
        assert_eq!(
            response_cv(Some(&long)),
            long,
            "extending would pass 63 characters"
        );
    }
}
