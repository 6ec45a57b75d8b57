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
use serde::{Deserialize, Serialize};

use super::Route;

/// What a fault does to the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Effect {
    /// Answer with this status and a ServiceFault.
    Status {
        /// The HTTP status, 400 to 599.
        status: u16,
        /// The ServiceFault's code.
        #[serde(default = "default_code")]
        code: i64,
        /// The ServiceFault's description.
        #[serde(default = "default_description")]
        description: String,
    },
    /// Answer as usual, this much later.
    Latency {
        /// The added latency, in milliseconds.
        ms: u64,
    },
    /// Close the connection without answering, before the request has any effect.
    Drop,
    /// Handle the request as usual, then close the connection without answering: the effect
    /// happens, the client never learns of it (what a retry with the same `MS-RequestId` is for).
    DropResponse,
    /// Accept a registration as usual, and make it end in failure (back to `NotRegistered`).
    FailRegistration,
}

fn default_code() -> i64 {
    partner_center_model::fault::codes::UNEXPECTED
}

fn default_description() -> String {
    "Injected fault.".to_owned()
}

impl Effect {
    /// A short name, for logs, the journal and metrics.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Latency { .. } => "latency",
            Self::Drop => "drop",
            Self::DropResponse => "dropResponse",
            Self::FailRegistration => "failRegistration",
        }
    }
}

/// A fault rule, as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// `registrations`, `registrationstatus`, `activate`, or `*` for all three.
    pub route: String,
    /// Only requests of this partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<TenantId>,
    /// Only requests on this subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionId>,
    /// Apply to a matching request with this probability (0 to 1); default: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Apply to the next `count` matching requests only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// What it does.
    pub effect: Effect,
}

impl FaultRule {
    /// Checks that the rule makes sense.
    ///
    /// # Errors
    ///
    /// What is wrong with it.
    pub fn validate(&self) -> Result<(), String> {
        if self.route != "*" && Route::parse(&self.route).is_none() {
            return Err(format!(
                "unknown route `{}`: expected registrations, registrationstatus, activate or *",
                self.route
            ));
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability {p} is not between 0 and 1"));
        }
        if let Effect::Status { status, .. } = self.effect
            && !(400..=599).contains(&status)
        {
            return Err(format!(
                "status {status} is not an error status (400 to 599)"
            ));
        }
        if self.effect == Effect::FailRegistration
            && !matches!(self.route.as_str(), "registrations" | "*")
        {
            return Err("failRegistration applies to the registrations route only".to_owned());
        }
        Ok(())
    }

    fn matches(&self, route: Route, partner: TenantId, subscription: SubscriptionId) -> bool {
        (self.route == "*" || Route::parse(&self.route) == Some(route))
            && self.partner.is_none_or(|p| p == partner)
            && self.subscription.is_none_or(|s| s == subscription)
            && (self.effect != Effect::FailRegistration || route == Route::Registrations)
    }
}

/// A rule as the service holds it: with its id and how many applications it has left.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRule {
    /// Its id, to delete it by.
    pub id: u64,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// How many more times it applies, for a rule with a `count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// The fault rules in force.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<ActiveRule>>,
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

    /// Adds a rule and returns its id.
    ///
    /// # Errors
    ///
    /// What is wrong with the rule.
    pub fn add(&self, rule: FaultRule) -> Result<u64, String> {
        rule.validate()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let remaining = rule.count;
        self.lock().push(ActiveRule {
            id,
            rule,
            remaining,
        });
        Ok(id)
    }

    /// The rules in force.
    #[must_use]
    pub fn list(&self) -> Vec<ActiveRule> {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveRule>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fault for a request, if a rule applies to it (counting it against the rule).
    pub fn pick(
        &self,
        route: Route,
        partner: TenantId,
        subscription: SubscriptionId,
    ) -> Option<Effect> {
        let mut rules = self.lock();
        if rules.is_empty() {
            return None;
        }
        let mut exhausted = None;
        let mut picked = None;
        for (index, active) in rules.iter_mut().enumerate() {
            if !active.rule.matches(route, partner, subscription) {
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
        assert_eq!(faults.pick(Route::Activate, partner, subscription), None);
        assert_eq!(
            faults.pick(Route::Registrations, TenantId::new_random(), subscription),
            None
        );
        let first = faults.pick(Route::Registrations, partner, subscription);
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
                .pick(Route::Registrations, partner, subscription)
                .is_some()
        );
        assert_eq!(
            faults.pick(Route::Registrations, partner, subscription),
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
        assert!((0..100).all(|_| faults.pick(Route::Activate, p, s).is_none()));
        faults
            .add(rule(
                r#"{"route":"*","probability":1.0,"effect":{"type":"latency","ms":5}}"#,
            ))
            .unwrap();
        assert!(
            (0..100).all(|_| faults.pick(Route::Activate, p, s) == Some(Effect::Latency { ms: 5 }))
        );
        assert!(faults.remove(never));
        assert!(!faults.remove(never));
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
