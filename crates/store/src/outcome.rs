//! How outcomes are written in idempotency records: a short, stable text per outcome, so that a
//! repeat (even after an upgrade) reads back exactly what the first request did.

use partner_center_model::{SubscriptionKind, SubscriptionStatus};

use partner_center_domain::{ActivateOutcome, Lookup, RegisterOutcome};

/// An outcome that can be stored in an idempotency record.
pub(crate) trait StoredOutcome: Sized {
    fn encode(&self) -> String;
    fn decode(text: &str) -> Option<Self>;
}

impl<T: StoredOutcome> StoredOutcome for Lookup<T> {
    fn encode(&self) -> String {
        match self {
            Self::Found(outcome) => outcome.encode(),
            Self::CustomerNotFound => "customer-not-found".to_owned(),
            Self::SubscriptionNotFound => "subscription-not-found".to_owned(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text {
            "customer-not-found" => Some(Self::CustomerNotFound),
            "subscription-not-found" => Some(Self::SubscriptionNotFound),
            other => T::decode(other).map(Self::Found),
        }
    }
}

impl StoredOutcome for RegisterOutcome {
    fn encode(&self) -> String {
        match self {
            Self::Accepted => "accepted".to_owned(),
            Self::AlreadyRegistering => "already-registering".to_owned(),
            Self::AlreadyRegistered => "already-registered".to_owned(),
            Self::IneligibleKind(kind) => format!("ineligible-kind:{kind}"),
            Self::IneligibleStatus(status) => format!("ineligible-status:{status}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None => match text {
                "accepted" => Self::Accepted,
                "already-registering" => Self::AlreadyRegistering,
                "already-registered" => Self::AlreadyRegistered,
                _ => return None,
            },
            Some(("ineligible-kind", kind)) => {
                Self::IneligibleKind(kind.parse::<SubscriptionKind>().ok()?)
            }
            Some(("ineligible-status", status)) => {
                Self::IneligibleStatus(status.parse::<SubscriptionStatus>().ok()?)
            }
            Some(_) => return None,
        })
    }
}

impl StoredOutcome for ActivateOutcome {
    fn encode(&self) -> String {
        match self {
            Self::NotSandbox => "not-sandbox".to_owned(),
            Self::Activated => "activated".to_owned(),
            Self::AlreadyActive => "already-active".to_owned(),
            Self::NotSaas(kind) => format!("not-saas:{kind}"),
            Self::NotActivatable(status) => format!("not-activatable:{status}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None => match text {
                "not-sandbox" => Self::NotSandbox,
                "activated" => Self::Activated,
                "already-active" => Self::AlreadyActive,
                _ => return None,
            },
            Some(("not-saas", kind)) => Self::NotSaas(kind.parse::<SubscriptionKind>().ok()?),
            Some(("not-activatable", status)) => {
                Self::NotActivatable(status.parse::<SubscriptionStatus>().ok()?)
            }
            Some(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips() {
        let mut registers: Vec<Lookup<RegisterOutcome>> = vec![
            Lookup::CustomerNotFound,
            Lookup::SubscriptionNotFound,
            Lookup::Found(RegisterOutcome::Accepted),
            Lookup::Found(RegisterOutcome::AlreadyRegistering),
            Lookup::Found(RegisterOutcome::AlreadyRegistered),
        ];
        registers.extend(
            SubscriptionKind::ALL
                .iter()
                .map(|k| Lookup::Found(RegisterOutcome::IneligibleKind(*k))),
        );
        registers.extend(
            SubscriptionStatus::ALL
                .iter()
                .map(|s| Lookup::Found(RegisterOutcome::IneligibleStatus(*s))),
        );
        for outcome in registers {
            assert_eq!(
                Lookup::decode(&outcome.encode()),
                Some(outcome),
                "{}",
                outcome.encode()
            );
        }
        let mut activates: Vec<Lookup<ActivateOutcome>> = vec![
            Lookup::CustomerNotFound,
            Lookup::Found(ActivateOutcome::NotSandbox),
            Lookup::Found(ActivateOutcome::Activated),
            Lookup::Found(ActivateOutcome::AlreadyActive),
        ];
        activates.extend(
            SubscriptionKind::ALL
                .iter()
                .map(|k| Lookup::Found(ActivateOutcome::NotSaas(*k))),
        );
        activates.extend(
            SubscriptionStatus::ALL
                .iter()
                .map(|s| Lookup::Found(ActivateOutcome::NotActivatable(*s))),
        );
        for outcome in activates {
            assert_eq!(
                Lookup::decode(&outcome.encode()),
                Some(outcome),
                "{}",
                outcome.encode()
            );
        }
        assert_eq!(<Lookup<ActivateOutcome>>::decode("accepted"), None);
        assert_eq!(
            <Lookup<RegisterOutcome>>::decode("ineligible-kind:vm"),
            None
        );
    }
}
