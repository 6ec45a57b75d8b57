//! Throttling like Partner Center's API gateway: token buckets per partner (or per partner and
//! customer) and route, answering 429 with `Retry-After` and the gateway's own body. Off unless
//! configured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use partner_center_model::{CustomerId, TenantId};

use super::Route;

/// Buckets kept at most; the least recently used go first (a forgotten bucket starts full).
const MAX_BUCKETS: usize = 100_000;

/// A throttling rule: `ROUTE=COUNT/PERIOD[/customer]`, e.g. `registrations=60/1m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRule {
    /// The route, or `None` for all three.
    pub route: Option<Route>,
    /// Requests admitted per period (also the burst).
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// Whether each customer of a partner has its own bucket.
    pub per_customer: bool,
}

impl std::str::FromStr for ThrottleRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "invalid throttle rule `{s}`: expected ROUTE=COUNT/PERIOD[/customer], e.g. registrations=60/1m"
            )
        };
        let (route, rate) = s.split_once('=').ok_or_else(usage)?;
        let route = match route.trim() {
            "*" => None,
            name => Some(Route::parse(name).ok_or_else(usage)?),
        };
        let mut parts = rate.split('/');
        let limit: u32 = parts
            .next()
            .and_then(|n| n.trim().parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(usage)?;
        let period = parts
            .next()
            .and_then(|p| humantime::parse_duration(p.trim()).ok())
            .filter(|p| !p.is_zero())
            .ok_or_else(usage)?;
        let per_customer = match parts.next().map(str::trim) {
            None => false,
            Some("customer") => true,
            Some(_) => return Err(usage()),
        };
        if parts.next().is_some() {
            return Err(usage());
        }
        Ok(Self {
            route,
            limit,
            period,
            per_customer,
        })
    }
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// Takes a token at `now`, or says how long until one is there.
    fn take(&mut self, rule: &ThrottleRule, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(rule.limit) / rule.period.as_secs_f64();
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(rule.limit));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

type BucketKey = (usize, TenantId, Option<CustomerId>);

/// The throttle: its rules and their buckets.
pub struct Throttle {
    rules: Vec<ThrottleRule>,
    buckets: quick_cache::sync::Cache<BucketKey, Arc<Mutex<Bucket>>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle with `rules` (none: everything is admitted).
    #[must_use]
    pub fn new(rules: Vec<ThrottleRule>) -> Self {
        Self {
            rules,
            buckets: quick_cache::sync::Cache::new(MAX_BUCKETS),
        }
    }

    /// Admits a request at `now`, or says after how many whole seconds to retry (at least 1).
    ///
    /// # Errors
    ///
    /// The `Retry-After`, in seconds, when a bucket is empty.
    pub fn admit(
        &self,
        route: Route,
        partner: TenantId,
        customer: Option<CustomerId>,
        now: Instant,
    ) -> Result<(), u64> {
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.route.is_some_and(|r| r != route) {
                continue;
            }
            let key = (index, partner, customer.filter(|_| rule.per_customer));
            let bucket = self
                .buckets
                .get_or_insert_with(&key, || -> Result<_, ()> {
                    Ok(Arc::new(Mutex::new(Bucket {
                        tokens: f64::from(rule.limit),
                        updated: now,
                    })))
                })
                .unwrap_or_else(|()| {
                    Arc::new(Mutex::new(Bucket {
                        tokens: 0.0,
                        updated: now,
                    }))
                });
            let mut bucket = bucket
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(wait) = bucket.take(rule, now) {
                return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_refuse_nonsense() {
        let rule: ThrottleRule = "registrations=60/1m".parse().unwrap();
        assert_eq!(
            rule,
            ThrottleRule {
                route: Some(Route::Registrations),
                limit: 60,
                period: Duration::from_secs(60),
                per_customer: false
            }
        );
        let rule: ThrottleRule = "*=5/10s/customer".parse().unwrap();
        assert_eq!((rule.route, rule.per_customer), (None, true));
        // Every route can be named, the purchase routes too (Partner Center throttles checkout).
        for (route, name, _) in Route::ALL {
            let rule: ThrottleRule = format!("{name}=1/1s").parse().unwrap();
            assert_eq!(rule.route, Some(*route));
        }
        let rule: ThrottleRule = "checkout=10/1m/customer".parse().unwrap();
        assert_eq!(rule.route, Some(Route::Checkout));
        for bad in [
            "registrations",
            "x=1/1s",
            "activate=0/1s",
            "activate=1/0s",
            "activate=1/soon",
            "activate=1/1s/partner",
            "activate=1/1s/customer/x",
        ] {
            assert!(
                bad.parse::<ThrottleRule>()
                    .unwrap_err()
                    .contains("ROUTE=COUNT/PERIOD"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_says_when_to_retry_and_refills() {
        let throttle = Throttle::new(vec!["activate=2/10s".parse().unwrap()]);
        let (partner, customer) = (TenantId::new_random(), CustomerId::new_random());
        let t0 = Instant::now();
        assert_eq!(
            throttle.admit(Route::Activate, partner, Some(customer), t0),
            Ok(())
        );
        assert_eq!(
            throttle.admit(Route::Activate, partner, Some(customer), t0),
            Ok(())
        );
        assert_eq!(
            throttle.admit(Route::Activate, partner, Some(customer), t0),
            Err(5),
            "one token every 5 s"
        );
        // Other routes and other partners have their own buckets.
        assert_eq!(
            throttle.admit(Route::RegistrationStatus, partner, Some(customer), t0),
            Ok(())
        );
        assert_eq!(
            throttle.admit(Route::Activate, TenantId::new_random(), Some(customer), t0),
            Ok(())
        );
        assert_eq!(
            throttle.admit(
                Route::Activate,
                partner,
                Some(customer),
                t0 + Duration::from_secs(3)
            ),
            Err(2)
        );
        assert_eq!(
            throttle.admit(
                Route::Activate,
                partner,
                Some(customer),
                t0 + Duration::from_secs(5)
            ),
            Ok(())
        );
    }

    #[test]
    fn per_customer_rules_give_each_customer_a_bucket() {
        let throttle = Throttle::new(vec!["*=1/1m/customer".parse().unwrap()]);
        let partner = TenantId::new_random();
        let t0 = Instant::now();
        let (a, b) = (CustomerId::new_random(), CustomerId::new_random());
        assert_eq!(
            throttle.admit(Route::Registrations, partner, Some(a), t0),
            Ok(())
        );
        assert_eq!(
            throttle.admit(Route::Registrations, partner, Some(a), t0),
            Err(60)
        );
        assert_eq!(
            throttle.admit(Route::Registrations, partner, Some(b), t0),
            Ok(())
        );
        assert_eq!(
            Throttle::new(Vec::new()).admit(Route::Activate, partner, Some(a), t0),
            Ok(())
        );
    }
}
