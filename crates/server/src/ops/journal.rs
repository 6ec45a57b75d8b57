//! The request journal: the last N requests the service answered, for operators and client
//! developers to see what a client actually sent and what it got.
//!
//! Bounded twice: at most `capacity` entries (the oldest goes when a new one comes), and each entry
//! of bounded size (paths and ids are cut to a fixed length), so its memory stays flat under any load.
//! An entry is kept compact ([`Entry`]) and written as the admin API's
//! [`JournalEntry`] only when someone reads the journal.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::MatchedPath;
use axum::http::Method;
use partner_center_model::admin::JournalEntry;
use partner_center_model::{SubscriptionId, TenantId, Timestamp};

/// Longest path kept in an entry.
const MAX_PATH: usize = 256;
/// Longest id kept in an entry.
const MAX_ID: usize = 128;

/// One request and its answer, as the journal holds it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When it arrived.
    pub time: Time,
    /// The HTTP method.
    pub method: Method,
    /// The path as requested (cut at 256 characters).
    pub path: String,
    /// The route it matched, if any (its template, shared with the router's).
    pub route: Option<MatchedPath>,
    /// The authenticated partner, if it got that far.
    pub partner: Option<TenantId>,
    /// `MS-RequestId`.
    pub request_id: String,
    /// `MS-CorrelationId`.
    pub correlation_id: String,
    /// The subscription in the path, if any.
    pub subscription: Option<SubscriptionId>,
    /// The response status.
    pub status: u16,
    /// How long the service took, in milliseconds.
    pub latency_ms: f64,
    /// The fault injected into it, if one was.
    pub fault: Option<&'static str>,
    /// Whether it repeated an earlier request's `MS-RequestId` and got that request's outcome.
    pub replayed: bool,
}

impl Entry {
    /// Cuts the variable-length fields to their bounds.
    #[must_use]
    pub fn bounded(mut self) -> Self {
        truncate(&mut self.path, MAX_PATH);
        truncate(&mut self.request_id, MAX_ID);
        truncate(&mut self.correlation_id, MAX_ID);
        self
    }
}

/// The entry as the admin API serves it.
impl From<Entry> for JournalEntry {
    fn from(entry: Entry) -> Self {
        Self {
            time: rfc3339(entry.time.0),
            method: entry.method.to_string(),
            path: entry.path,
            route: entry.route.map(|route| route.as_str().to_owned()),
            partner: entry.partner,
            request_id: entry.request_id,
            correlation_id: entry.correlation_id,
            subscription: entry.subscription,
            status: entry.status,
            latency_ms: entry.latency_ms,
            fault: entry.fault.map(str::to_owned),
            replayed: entry.replayed,
        }
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// What to look for in the journal.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Entries with this `MS-CorrelationId`.
    pub correlation_id: Option<String>,
    /// Entries with this `MS-RequestId`.
    pub request_id: Option<String>,
    /// Entries about this subscription.
    pub subscription: Option<SubscriptionId>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// The journal.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    entries: Mutex<VecDeque<Entry>>,
}

impl Journal {
    /// A journal of at most `capacity` entries (0 keeps nothing).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records an entry, forgetting the oldest when full.
    pub fn record(&self, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let entry = entry.bounded();
        let mut entries = self.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// How many entries it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries matching `query`, newest first.
    #[must_use]
    pub fn find(&self, query: &Query) -> Vec<Entry> {
        let entries = self.lock();
        entries
            .iter()
            .rev()
            .filter(|e| {
                query
                    .correlation_id
                    .as_ref()
                    .is_none_or(|c| &e.correlation_id == c)
            })
            .filter(|e| query.request_id.as_ref().is_none_or(|r| &e.request_id == r))
            .filter(|e| query.subscription.is_none_or(|s| e.subscription == Some(s)))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// A journal entry's time: kept as a timestamp, written as RFC 3339 with milliseconds (see
/// [`rfc3339`]) only when someone reads the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub Timestamp);

impl Time {
    /// Now.
    #[must_use]
    pub fn now() -> Self {
        Self(Timestamp::now())
    }
}

/// A timestamp as RFC 3339 with milliseconds.
#[must_use]
pub fn rfc3339(time: Timestamp) -> String {
    humantime::format_rfc3339_millis(time.to_system_time()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Entry {
        Entry {
            time: Time::now(),
            method: Method::GET,
            path: format!("/v1/{i}"),
            route: None,
            partner: None,
            request_id: format!("r{i}"),
            correlation_id: format!("c{}", i % 2),
            subscription: None,
            status: 200,
            latency_ms: 0.1,
            fault: None,
            replayed: false,
        }
    }

    #[test]
    fn it_keeps_the_newest_entries_up_to_its_capacity() {
        let journal = Journal::new(10);
        for i in 0..100 {
            journal.record(entry(i));
        }
        assert_eq!(journal.len(), 10);
        let all = journal.find(&Query::default());
        assert_eq!(all.first().unwrap().path, "/v1/99");
        assert_eq!(all.last().unwrap().path, "/v1/90");
        let by_request = journal.find(&Query {
            request_id: Some("r95".into()),
            ..Query::default()
        });
        assert_eq!(by_request.len(), 1);
        let by_correlation = journal.find(&Query {
            correlation_id: Some("c1".into()),
            limit: Some(2),
            ..Query::default()
        });
        assert_eq!(
            by_correlation
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["/v1/99", "/v1/97"]
        );
        journal.clear();
        assert!(journal.is_empty());
    }

    /// The `MatchedPath` a router gives a request on `template`.
    async fn matched(template: &'static str) -> MatchedPath {
        use std::sync::{Arc, Mutex};
        use tower::ServiceExt as _;
        let seen: Arc<Mutex<Option<MatchedPath>>> = Arc::default();
        let keep = seen.clone();
        let router = axum::Router::new().route(
            template,
            axum::routing::get(move |path: MatchedPath| async move {
                *keep.lock().unwrap() = Some(path);
            }),
        );
        let request = axum::http::Request::get(template)
            .body(axum::body::Body::empty())
            .unwrap();
        router.oneshot(request).await.unwrap();
        seen.lock().unwrap().take().unwrap()
    }

    #[tokio::test]
    async fn entries_are_served_with_an_rfc3339_time_and_every_field() {
        let served = JournalEntry::from(Entry {
            time: Time(Timestamp::from_millis(1_767_323_045_678)),
            route: Some(matched("/v1/x").await),
            partner: Some("b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap()),
            fault: Some("drop"),
            ..entry(3)
        });
        assert_eq!(
            serde_json::to_string(&served).unwrap(),
            r#"{"time":"2026-01-02T03:04:05.678Z","method":"GET","path":"/v1/3","route":"/v1/x","partner":"b1e5d2a0-0000-4000-8000-000000000001","requestId":"r3","correlationId":"c1","subscription":null,"status":200,"latencyMs":0.1,"fault":"drop","replayed":false}"#
        );
    }

    #[test]
    fn entries_are_cut_to_their_bounds() {
        let mut long = entry(0);
        long.path = "é".repeat(1000);
        long.request_id = "x".repeat(1000);
        let bounded = long.bounded();
        assert!(bounded.path.len() <= MAX_PATH && bounded.request_id.len() == MAX_ID);
        let journal = Journal::new(0);
        journal.record(entry(1));
        assert!(journal.is_empty(), "capacity 0 keeps nothing");
    }
}
