//! Activating a third-party SaaS subscription in an integration sandbox.
//!
//! Only a sandbox partner may activate, and only a `saas` subscription: a `pending` one becomes
//! `active`; an active one is already activated; any other status cannot be activated.

use partner_center_model::{SubscriptionKind, SubscriptionStatus, Timestamp};

use crate::purchase::{self, Order};
use crate::{Change, Decision, Lookup, SubscriptionFacts, SubscriptionKey};

/// What an activation request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// The partner's account is not an integration sandbox. Decided before the customer is looked
    /// at, so it is answered `Found` whatever the customer.
    NotSandbox,
    /// The subscription went from `pending` to `active`.
    Activated,
    /// The subscription was already active; nothing changed.
    AlreadyActive,
    /// The subscription is not a third-party SaaS subscription.
    NotSaas(SubscriptionKind),
    /// The subscription's status does not allow activation (suspended, deleted, ...).
    NotActivatable(SubscriptionStatus),
}

/// Activates the subscription `found` (under `key`) of a partner whose account is a sandbox or
/// not; `order` is the order that made it, if one did (its line is then fulfilled, and the order
/// completes once every line is).
pub fn activate(
    key: &SubscriptionKey,
    sandbox: bool,
    found: Lookup<SubscriptionFacts>,
    order: Option<Order>,
    now: Timestamp,
) -> Decision<Lookup<ActivateOutcome>> {
    if !sandbox {
        return Decision::answer(Lookup::Found(ActivateOutcome::NotSandbox));
    }
    let sub = match found.found() {
        Ok(sub) => sub,
        Err(missing) => return Decision::answer(missing),
    };
    let outcome = match (sub.kind, sub.status) {
        (SubscriptionKind::Saas, SubscriptionStatus::Pending) => {
            let mut changes = vec![Change::SubscriptionActivated { key: *key, at: now }];
            changes.extend(purchase::activated(order, key.subscription, now));
            return Decision {
                outcome: Lookup::Found(ActivateOutcome::Activated),
                changes,
            };
        }
        (SubscriptionKind::Saas, SubscriptionStatus::Active) => ActivateOutcome::AlreadyActive,
        (SubscriptionKind::Saas, status) => ActivateOutcome::NotActivatable(status),
        (kind, _) => ActivateOutcome::NotSaas(kind),
    };
    Decision::answer(Lookup::Found(outcome))
}

#[cfg(test)]
mod tests {
    use partner_center_model::RegistrationState;

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

    fn key() -> SubscriptionKey {
        SubscriptionKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            subscription: "e4b8a5d3-0000-4000-8000-000000000004".parse().unwrap(),
        }
    }

    /// Every sandbox flag x kind x status x registration state.
    #[test]
    fn activation_of_every_subscription() {
        let mut activated = 0;
        for sandbox in [false, true] {
            for kind in SubscriptionKind::ALL {
                for status in SubscriptionStatus::ALL {
                    for registration in RegistrationState::ALL {
                        let sub = SubscriptionFacts {
                            kind: *kind,
                            status: *status,
                            registration: *registration,
                        };
                        let decision = activate(&key(), sandbox, Lookup::Found(sub), None, NOW);
                        let expected = match (sandbox, kind, status) {
                            (false, _, _) => ActivateOutcome::NotSandbox,
                            (true, SubscriptionKind::Saas, SubscriptionStatus::Pending) => {
                                ActivateOutcome::Activated
                            }
                            (true, SubscriptionKind::Saas, SubscriptionStatus::Active) => {
                                ActivateOutcome::AlreadyActive
                            }
                            (true, SubscriptionKind::Saas, other) => {
                                ActivateOutcome::NotActivatable(*other)
                            }
                            (true, other, _) => ActivateOutcome::NotSaas(*other),
                        };
                        assert_eq!(
                            decision.outcome,
                            Lookup::Found(expected),
                            "{sandbox} {sub:?}"
                        );
                        if expected == ActivateOutcome::Activated {
                            activated += 1;
                            assert_eq!(
                                decision.changes,
                                [Change::SubscriptionActivated {
                                    key: key(),
                                    at: NOW
                                }]
                            );
                        } else {
                            assert!(decision.changes.is_empty());
                        }
                    }
                }
            }
        }
        // Whatever its registration state, a pending SaaS subscription of a sandbox activates.
        assert_eq!(activated, RegistrationState::ALL.len());
    }

    #[test]
    fn a_partner_that_is_no_sandbox_is_refused_before_the_customer_is_looked_at() {
        for missing in [Lookup::CustomerNotFound, Lookup::SubscriptionNotFound] {
            let refused = activate(&key(), false, missing, None, NOW);
            assert_eq!(refused.outcome, Lookup::Found(ActivateOutcome::NotSandbox));
            let sandbox = activate(&key(), true, missing, None, NOW);
            assert_eq!(
                sandbox.outcome,
                missing.map(|_: SubscriptionFacts| ActivateOutcome::Activated)
            );
            assert!(refused.changes.is_empty() && sandbox.changes.is_empty());
        }
    }
}
