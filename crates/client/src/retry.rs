//! When to try a call again, as the .NET SDK does.

use std::time::Duration;

/// How calls are retried.
///
/// A call is retried after a network error or a 5xx answer, with the same `MS-RequestId` (so the
/// service answers a repeat of a POST as it answered the first); never after 400, 401, 403, 404 or
/// 409. After a 429 it is retried once `Retry-After` has passed (at most [`RetryPolicy::max_retry_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
    max_retry_after: Duration,
}

impl RetryPolicy {
    /// The .NET SDK's policy: 3 retries, after 0.5, 1.5 and 3.5 seconds (`(2^n - 1) / 2`).
    #[must_use]
    pub fn exponential(retries: u32) -> Self {
        let delays = (1..=retries)
            .map(|n| Duration::from_millis(((1_u64 << n.min(20)) - 1) * 500))
            .collect();
        Self {
            delays,
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// Retries after exactly these delays (as many retries as delays).
    #[must_use]
    pub fn with_delays(delays: impl IntoIterator<Item = Duration>) -> Self {
        Self {
            delays: delays.into_iter().collect(),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self::with_delays([])
    }

    /// Waits at most this long for a 429's `Retry-After` (a longer one is not waited for: the 429
    /// is returned).
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// How many retries a call gets.
    #[must_use]
    pub fn retries(&self) -> usize {
        self.delays.len()
    }

    /// The pause before retry `attempt` (0-based).
    #[must_use]
    pub fn delay(&self, attempt: usize) -> Option<Duration> {
        self.delays.get(attempt).copied()
    }

    /// The longest `Retry-After` waited for.
    #[must_use]
    pub fn max_wait_for_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether an answer with this status is worth retrying.
    #[must_use]
    pub fn retries_status(status: u16) -> bool {
        status >= 500 || status == 429
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::exponential(3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_dotnet_sdks_three_retries() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.retries(), 3);
        let delays: Vec<_> = (0..3).map(|n| policy.delay(n).unwrap()).collect();
        assert_eq!(
            delays,
            [
                Duration::from_millis(500),
                Duration::from_millis(1500),
                Duration::from_millis(3500)
            ]
        );
        assert_eq!(policy.delay(3), None);
        for status in [400, 401, 403, 404, 409] {
            assert!(!RetryPolicy::retries_status(status), "{status}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert!(RetryPolicy::retries_status(status), "{status}");
        }
        assert_eq!(RetryPolicy::none().retries(), 0);
    }
}
