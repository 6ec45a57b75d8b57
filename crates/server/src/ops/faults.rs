//! Fault injection: rules that make matching requests fail, slow down, lose their connection, or
//! register a subscription in a way that ends in failure, so that clients can test their retries.
//!
//! A rule matches a route (or every route), optionally one partner and one subscription. It applies
//! always, with a probability, or to the next `count` matching requests. The first matching rule
//! that applies decides; each request gets at most one fault.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use partner_center_model::{SubscriptionId, TenantId};

use super::Route;

/// What a fault does to the request: the model's [`FaultEffect`](partner_center_model::admin::FaultEffect),
/// by the name the request path uses.
pub use partner_center_model::admin::FaultEffect as Effect;
/// The rule, and a rule in force, as the admin API and `--faults` write them.
pub use partner_center_model::admin::{ActiveFaultRule, FaultRule};

/// Checks that a rule makes sense: a known route, a probability between 0 and 1, an error status,
/// `failRegistration` on the registrations route only.
///
/// # Errors
///
/// What is wrong with it.
pub fn validate(rule: &FaultRule) -> Result<(), String> {
    if rule.route != "*" && Route::parse(&rule.route).is_none() {
        return Err(format!(
            "unknown route `{}`: expected one of {} or *",
            rule.route,
            Route::names()
        ));
    }
    if let Some(p) = rule.probability
        && !(0.0..=1.0).contains(&p)
    {
        return Err(format!("probability {p} is not between 0 and 1"));
    }
    if let Effect::Status { status, .. } = rule.effect
        && !(400..=599).contains(&status)
    {
        return Err(format!(
            "status {status} is not an error status (400 to 599)"
        ));
    }
    if rule.effect == Effect::FailRegistration
        && !matches!(rule.route.as_str(), "registrations" | "*")
    {
        return Err("failRegistration applies to the registrations route only".to_owned());
    }
    Ok(())
}

/// Whether `rule` applies to a request on `route` of `partner` on `subscription`.
fn matches(
    rule: &FaultRule,
    route: Route,
    partner: TenantId,
    subscription: Option<SubscriptionId>,
) -> bool {
    (rule.route == "*" || Route::parse(&rule.route) == Some(route))
        && rule.partner.is_none_or(|p| p == partner)
        && rule.subscription.is_none_or(|s| Some(s) == subscription)
        && (rule.effect != Effect::FailRegistration || route == Route::Registrations)
}

/// The fault rules in force.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<ActiveFaultRule>>,
    next_id: AtomicU64,
}

impl Faults {
    /// Starts with `rules`.
    ///
    /// # Errors
    ///
    /// The first invalid rule's problem.
    pub fn new(rules: Vec<FaultRule>) -> Result<Self, String> {
        let faults = Self::default();
        for rule in rules {
            faults.add(rule)?;
        }
        Ok(faults)
    }

    /// Adds a rule and returns it, as it is now in force (with its id).
    ///
    /// # Errors
    ///
    /// What is wrong with the rule.
    pub fn add(&self, rule: FaultRule) -> Result<ActiveFaultRule, String> {
        validate(&rule)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let remaining = rule.count;
        let active = ActiveFaultRule {
            id,
            rule,
            remaining,
        };
        self.lock().push(active.clone());
        Ok(active)
    }

    /// The rules in force.
    #[must_use]
    pub fn list(&self) -> Vec<ActiveFaultRule> {
        self.lock().clone()
    }

    /// Removes a rule; `false` when there is none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFaultRule>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fault for a request, if a rule applies to it (counting it against the rule).
    pub fn pick(
        &self,
        route: Route,
        partner: TenantId,
        subscription: Option<SubscriptionId>,
    ) -> Option<Effect> {
        let mut rules = self.lock();
        if rules.is_empty() {
            return None;
        }
        let mut exhausted = None;
        let mut picked = None;
        for (index, active) in rules.iter_mut().enumerate() {
            if !matches(&active.rule, route, partner, subscription) {
                continue;
            }
            if let Some(p) = active.rule.probability
                && random_fraction() >= p
            {
                continue;
            }
            if let Some(remaining) = active.remaining.as_mut() {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    exhausted = Some(index);
                }
            }
            picked = Some(active.rule.effect.clone());
            break;
        }
        if let Some(index) = exhausted {
            rules.remove(index);
        }
        picked
    }

    /// Sleeps for a latency effect.
    pub async fn delay(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A uniformly random number in [0, 1).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.0;
    }
    // 53 random bits: the precision of an f64 mantissa.
    #[expect(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> FaultRule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rules_match_their_route_partner_and_subscription_and_count_down() {
        let faults = Faults::default();
        let partner = TenantId::new_random();
        let subscription = SubscriptionId::new_random();
        faults
            .add(rule(&format!(
                r#"{{"route":"registrations","partner":"{partner}","count":2,"effect":{{"type":"status","status":500}}}}"#
            )))
            .unwrap();
        assert_eq!(
            faults.pick(Route::Activate, partner, Some(subscription)),
            None
        );
        assert_eq!(
            faults.pick(
                Route::Registrations,
                TenantId::new_random(),
                Some(subscription)
            ),
            None
        );
        let first = faults.pick(Route::Registrations, partner, Some(subscription));
        assert!(
            matches!(
                first,
                Some(Effect::Status {
                    status: 500,
                    code: 800_003,
                    ..
                })
            ),
            "{first:?}"
        );
        assert_eq!(faults.list()[0].remaining, Some(1));
        assert!(
            faults
                .pick(Route::Registrations, partner, Some(subscription))
                .is_some()
        );
        assert_eq!(
            faults.pick(Route::Registrations, partner, Some(subscription)),
            None,
            "used up"
        );
        assert!(faults.list().is_empty());
    }

    #[test]
    fn probability_zero_never_applies_and_one_always_does() {
        let faults = Faults::default();
        let never = faults
            .add(rule(
                r#"{"route":"*","probability":0.0,"effect":{"type":"drop"}}"#,
            ))
            .unwrap();
        let (p, s) = (TenantId::new_random(), SubscriptionId::new_random());
        assert!((0..100).all(|_| faults.pick(Route::Activate, p, Some(s)).is_none()));
        faults
            .add(rule(
                r#"{"route":"*","probability":1.0,"effect":{"type":"latency","ms":5}}"#,
            ))
            .unwrap();
        assert!(
            (0..100).all(
                |_| faults.pick(Route::Activate, p, Some(s)) == Some(Effect::Latency { ms: 5 })
            )
        );
        assert!(faults.remove(never.id));
        assert!(!faults.remove(never.id));
        faults.clear();
        assert!(faults.list().is_empty());
    }

    #[test]
    fn invalid_rules_are_refused_with_a_reason() {
        let faults = Faults::default();
        for (json, needle) in [
            (
                r#"{"route":"nope","effect":{"type":"drop"}}"#,
                "unknown route",
            ),
            (
                r#"{"route":"*","probability":2,"effect":{"type":"drop"}}"#,
                "probability",
            ),
            (
                r#"{"route":"*","effect":{"type":"status","status":200}}"#,
                "not an error status",
            ),
            (
                r#"{"route":"activate","effect":{"type":"failRegistration"}}"#,
                "registrations route only",
            ),
        ] {
            let err = faults.add(rule(json)).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
