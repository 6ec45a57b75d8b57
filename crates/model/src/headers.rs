//! Header names Partner Center reads and writes (lower case, as HTTP/2 and the `http` crate want them).

/// Identifies one logical call; repeats with the same value are deduplicated on the POST routes.
pub const MS_REQUEST_ID: &str = "ms-requestid";
/// Identifies a chain of calls, for logs and traces.
pub const MS_CORRELATION_ID: &str = "ms-correlationid";
/// Correlation Vector (`<16 base64 characters>.<n>[.<n>...]`).
pub const MS_CV: &str = "ms-cv";
/// An identifier of the serving instance.
pub const MS_SERVER_ID: &str = "ms-serverid";
/// The continuation token of the customers list's next page (`GET /v1/customers?seekOperation=Next`).
pub const MS_CONTINUATION_TOKEN: &str = "ms-continuationtoken";
/// Longest `MS-RequestId` / `MS-CorrelationId` value accepted.
pub const MAX_ID_HEADER_LEN: usize = 128;
