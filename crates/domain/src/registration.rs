//! Registering a subscription for Reserved Instance purchase, and settling a registration.
//!
//! A subscription can be registered when it is an Azure subscription (`azure` or `azurePlan`) and
//! `active`. Accepting a registration makes it `Registering`; the worker (after the configured
//! delay) or an operator settles it, and it ends `Registered`, or, when it was accepted to fail
//! (fault injection) or an operator fails it, back at `NotRegistered`.

use crate::change::Settlement;
use partner_center_model::{
    RegistrationEnding, RegistrationState, SubscriptionKind, SubscriptionStatus, Timestamp,
};

use crate::{Change, Decision, Lookup, SubscriptionFacts, SubscriptionKey};

/// What a registration request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// A registration was recorded; the subscription is now `Registering`.
    Accepted,
    /// A registration is already in progress; nothing was recorded.
    AlreadyRegistering,
    /// The subscription is already registered; nothing was recorded.
    AlreadyRegistered,
    /// The subscription is not an Azure subscription.
    IneligibleKind(SubscriptionKind),
    /// The subscription is not active.
    IneligibleStatus(SubscriptionStatus),
}

/// Whether a subscription of this kind can be registered for Reserved Instance purchase.
#[must_use]
pub const fn is_registrable(kind: SubscriptionKind) -> bool {
    matches!(kind, SubscriptionKind::Azure | SubscriptionKind::AzurePlan)
}

/// Registers the subscription `found` (under `key`) at `now`: eligibility (kind, then status) is
/// checked before the registration state, so a suspended subscription is refused even if it was
/// registered before. An accepted registration will end as `ending` says.
pub fn register(
    key: &SubscriptionKey,
    found: Lookup<SubscriptionFacts>,
    ending: RegistrationEnding,
    now: Timestamp,
) -> Decision<Lookup<RegisterOutcome>> {
    let sub = match found.found() {
        Ok(sub) => sub,
        Err(missing) => return Decision::answer(missing),
    };
    let outcome = if !is_registrable(sub.kind) {
        RegisterOutcome::IneligibleKind(sub.kind)
    } else if sub.status != SubscriptionStatus::Active {
        RegisterOutcome::IneligibleStatus(sub.status)
    } else {
        match sub.registration {
            RegistrationState::Registering => RegisterOutcome::AlreadyRegistering,
            RegistrationState::Registered => RegisterOutcome::AlreadyRegistered,
            RegistrationState::NotRegistered => {
                return Decision::with(
                    Lookup::Found(RegisterOutcome::Accepted),
                    Change::RegistrationAccepted {
                        key: *key,
                        ending,
                        at: now,
                    },
                );
            }
        }
    };
    Decision::answer(Lookup::Found(outcome))
}

/// A registration's id in the store (a row of the subscription's registration history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(pub i64);

/// A queued registration the worker has claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedRegistration {
    /// The registration to settle.
    pub registration: RegistrationId,
    /// How many times it has been claimed, this claim included.
    pub attempts: i64,
    /// How it is to end (decided when it was accepted).
    pub ending: RegistrationEnding,
}

/// A registration still in progress, as the store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRegistration {
    /// Which.
    pub id: RegistrationId,
    /// Its subscription.
    pub key: SubscriptionKey,
    /// When it was accepted.
    pub requested_at: Timestamp,
}

/// A registration the worker settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedRegistration {
    /// Whose subscription it was.
    pub key: SubscriptionKey,
    /// When it was accepted.
    pub requested_at: Timestamp,
    /// When it was settled.
    pub completed_at: Timestamp,
    /// How it ended.
    pub ending: RegistrationEnding,
}

/// Settles a claimed registration: `open` is the registration if it is still in progress. One
/// settled before (its job ran twice: work is at-least-once) changes nothing but losing its job.
pub fn complete(
    claim: &ClaimedRegistration,
    open: Option<OpenRegistration>,
    now: Timestamp,
) -> Decision<Option<CompletedRegistration>> {
    match open {
        Some(open) => Decision::with(
            Some(CompletedRegistration {
                key: open.key,
                requested_at: open.requested_at,
                completed_at: now,
                ending: claim.ending,
            }),
            Change::RegistrationSettled(Settlement {
                registration: claim.registration,
                key: open.key,
                ending: claim.ending,
                at: now,
            }),
        ),
        None => Decision::answer(None).then(Change::RegistrationJobDropped(claim.registration)),
    }
}

/// What an operator's settlement of a subscription's registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The registration in progress was settled.
    Done,
    /// There was no registration in progress; the subscription is as it says.
    NotRegistering(RegistrationState),
}

/// An operator ends the registration in progress of subscription `found` now, as `ending` says,
/// whatever the delay.
pub fn settle(
    found: Lookup<(SubscriptionFacts, Option<OpenRegistration>)>,
    ending: RegistrationEnding,
    now: Timestamp,
) -> Decision<Lookup<Settled>> {
    let (sub, open) = match found.found() {
        Ok(found) => found,
        Err(missing) => return Decision::answer(missing),
    };
    match open {
        Some(open) => Decision::with(
            Lookup::Found(Settled::Done),
            Change::RegistrationSettled(Settlement {
                registration: open.id,
                key: open.key,
                ending,
                at: now,
            }),
        ),
        None => Decision::answer(Lookup::Found(Settled::NotRegistering(sub.registration))),
    }
}

#[cfg(test)]
mod tests {
    use partner_center_model::SubscriptionKind::{Azure, AzurePlan, License, Saas};

    use super::*;

    fn key() -> SubscriptionKey {
        SubscriptionKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            subscription: "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap(),
        }
    }

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

    fn every_subscription() -> impl Iterator<Item = SubscriptionFacts> {
        SubscriptionKind::ALL.iter().flat_map(|kind| {
            SubscriptionStatus::ALL.iter().flat_map(move |status| {
                RegistrationState::ALL
                    .iter()
                    .map(move |registration| SubscriptionFacts {
                        kind: *kind,
                        status: *status,
                        registration: *registration,
                    })
            })
        })
    }

    #[test]
    fn only_azure_kinds_are_registrable() {
        for kind in SubscriptionKind::ALL {
            assert_eq!(
                is_registrable(*kind),
                [Azure, AzurePlan].contains(kind),
                "{kind}"
            );
        }
        assert!(!is_registrable(Saas) && !is_registrable(License));
    }

    /// Every kind x status x state x ending: what is answered, and what is written.
    #[test]
    fn registration_of_every_subscription() {
        let mut accepted = 0;
        for sub in every_subscription() {
            for ending in RegistrationEnding::ALL {
                let decision = register(&key(), Lookup::Found(sub), *ending, NOW);
                let eligible_kind = matches!(sub.kind, Azure | AzurePlan);
                let expected = if !eligible_kind {
                    RegisterOutcome::IneligibleKind(sub.kind)
                } else if sub.status != SubscriptionStatus::Active {
                    RegisterOutcome::IneligibleStatus(sub.status)
                } else {
                    match sub.registration {
                        RegistrationState::NotRegistered => RegisterOutcome::Accepted,
                        RegistrationState::Registering => RegisterOutcome::AlreadyRegistering,
                        RegistrationState::Registered => RegisterOutcome::AlreadyRegistered,
                    }
                };
                assert_eq!(decision.outcome, Lookup::Found(expected), "{sub:?}");
                if expected == RegisterOutcome::Accepted {
                    accepted += 1;
                    assert_eq!(
                        decision.changes,
                        [Change::RegistrationAccepted {
                            key: key(),
                            ending: *ending,
                            at: NOW
                        }]
                    );
                } else {
                    assert!(decision.changes.is_empty(), "{sub:?}: {decision:?}");
                }
            }
        }
        // Two kinds, one status, one state, two endings.
        assert_eq!(accepted, 4);
    }

    #[test]
    fn a_missing_customer_or_subscription_is_answered_as_missing_and_changes_nothing() {
        for missing in [Lookup::CustomerNotFound, Lookup::SubscriptionNotFound] {
            let decision = register(&key(), missing, RegistrationEnding::Registered, NOW);
            assert_eq!(
                decision.outcome,
                missing.map(|_: SubscriptionFacts| RegisterOutcome::Accepted)
            );
            assert!(decision.changes.is_empty());
        }
    }

    #[test]
    fn the_worker_settles_an_open_registration_as_it_was_accepted_to_end() {
        for ending in RegistrationEnding::ALL {
            let claim = ClaimedRegistration {
                registration: RegistrationId(42),
                attempts: 1,
                ending: *ending,
            };
            let open = OpenRegistration {
                id: RegistrationId(42),
                key: key(),
                requested_at: Timestamp::from_millis(5),
            };
            let decision = complete(&claim, Some(open), NOW);
            assert_eq!(
                decision.outcome,
                Some(CompletedRegistration {
                    key: key(),
                    requested_at: Timestamp::from_millis(5),
                    completed_at: NOW,
                    ending: *ending,
                })
            );
            assert_eq!(
                decision.changes,
                [Change::RegistrationSettled(Settlement {
                    registration: RegistrationId(42),
                    key: key(),
                    ending: *ending,
                    at: NOW
                })]
            );
            // Its job run again: settled before, so only the job goes.
            let again = complete(&claim, None, NOW);
            assert_eq!(again.outcome, None);
            assert_eq!(
                again.changes,
                [Change::RegistrationJobDropped(RegistrationId(42))]
            );
        }
        assert_eq!(
            RegistrationEnding::Registered.state(),
            RegistrationState::Registered
        );
        assert_eq!(
            RegistrationEnding::Failed.state(),
            RegistrationState::NotRegistered
        );
    }

    /// Every kind x status x state, with and without a registration in progress, either way.
    #[test]
    fn an_operator_settles_only_a_registration_in_progress() {
        let open = OpenRegistration {
            id: RegistrationId(7),
            key: key(),
            requested_at: Timestamp::from_millis(5),
        };
        for sub in every_subscription() {
            for ending in RegistrationEnding::ALL {
                let none = settle(Lookup::Found((sub, None)), *ending, NOW);
                assert_eq!(
                    none.outcome,
                    Lookup::Found(Settled::NotRegistering(sub.registration))
                );
                assert!(none.changes.is_empty());
                let some = settle(Lookup::Found((sub, Some(open))), *ending, NOW);
                assert_eq!(some.outcome, Lookup::Found(Settled::Done));
                assert_eq!(
                    some.changes,
                    [Change::RegistrationSettled(Settlement {
                        registration: RegistrationId(7),
                        key: key(),
                        ending: *ending,
                        at: NOW
                    })]
                );
            }
        }
        let missing = settle(
            Lookup::SubscriptionNotFound,
            RegistrationEnding::Failed,
            NOW,
        );
        assert_eq!(missing.outcome, Lookup::SubscriptionNotFound);
        assert!(missing.changes.is_empty());
    }
}
