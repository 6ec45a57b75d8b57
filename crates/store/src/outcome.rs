//! How outcomes are written in idempotency records: a short, stable text per outcome, so that a
//! repeat (even after an upgrade) reads back exactly what the first request did.

use partner_center_model::{SubscriptionKind, SubscriptionStatus};

use partner_center_domain::purchase::{CancelOutcome, CartOutcome, CheckoutOutcome, OrderOutcome};
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

impl StoredOutcome for CartOutcome {
    fn encode(&self) -> String {
        match self {
            Self::CustomerNotFound => "customer-not-found".to_owned(),
            Self::CartNotFound => "cart-not-found".to_owned(),
            Self::AlreadyOrdered => "already-ordered".to_owned(),
            Self::Saved(id) => format!("saved:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None => match text {
                "customer-not-found" => Self::CustomerNotFound,
                "cart-not-found" => Self::CartNotFound,
                "already-ordered" => Self::AlreadyOrdered,
                _ => return None,
            },
            Some(("saved", id)) => Self::Saved(id.to_owned()),
            Some(_) => return None,
        })
    }
}

impl StoredOutcome for CheckoutOutcome {
    fn encode(&self) -> String {
        match self {
            Self::CustomerNotFound => "customer-not-found".to_owned(),
            Self::CartNotFound => "cart-not-found".to_owned(),
            Self::AlreadyOrdered => "already-ordered".to_owned(),
            Self::LineErrors => "line-errors".to_owned(),
            Self::Ordered(ids) => format!("ordered:{}", ids.join(",")),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None => match text {
                "customer-not-found" => Self::CustomerNotFound,
                "cart-not-found" => Self::CartNotFound,
                "already-ordered" => Self::AlreadyOrdered,
                "line-errors" => Self::LineErrors,
                _ => return None,
            },
            Some(("ordered", ids)) => Self::Ordered(
                ids.split(',')
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Some(_) => return None,
        })
    }
}

impl StoredOutcome for OrderOutcome {
    fn encode(&self) -> String {
        match self {
            Self::CustomerNotFound => "customer-not-found".to_owned(),
            Self::Placed(id) => format!("placed:{id}"),
            Self::Refused(line, error) => format!(
                "refused:{line}:{}",
                serde_json::to_string(error).unwrap_or_default()
            ),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None if text == "customer-not-found" => Self::CustomerNotFound,
            Some(("placed", id)) => Self::Placed(id.to_owned()),
            Some(("refused", rest)) => {
                let (line, error) = rest.split_once(':')?;
                Self::Refused(line.parse().ok()?, serde_json::from_str(error).ok()?)
            }
            _ => return None,
        })
    }
}

impl StoredOutcome for CancelOutcome {
    fn encode(&self) -> String {
        match self {
            Self::CustomerNotFound => "customer-not-found".to_owned(),
            Self::OrderNotFound => "order-not-found".to_owned(),
            Self::NotSandbox => "not-sandbox".to_owned(),
            Self::Cancelled(id) => format!("cancelled:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        Some(match text.split_once(':') {
            None => match text {
                "customer-not-found" => Self::CustomerNotFound,
                "order-not-found" => Self::OrderNotFound,
                "not-sandbox" => Self::NotSandbox,
                _ => return None,
            },
            Some(("cancelled", id)) => Self::Cancelled(id.to_owned()),
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

    #[test]
    fn every_purchase_outcome_round_trips() {
        use partner_center_domain::purchase::LineError;
        let carts = [
            CartOutcome::CustomerNotFound,
            CartOutcome::CartNotFound,
            CartOutcome::AlreadyOrdered,
            CartOutcome::Saved("0a1b2c3d-0000-4000-8000-000000000001".into()),
        ];
        for outcome in carts {
            assert_eq!(CartOutcome::decode(&outcome.encode()), Some(outcome));
        }
        let checkouts = [
            CheckoutOutcome::CustomerNotFound,
            CheckoutOutcome::CartNotFound,
            CheckoutOutcome::AlreadyOrdered,
            CheckoutOutcome::LineErrors,
            CheckoutOutcome::Ordered(vec!["abc".into()]),
            CheckoutOutcome::Ordered(vec!["abc".into(), "Def_0".into()]),
        ];
        for outcome in checkouts {
            assert_eq!(CheckoutOutcome::decode(&outcome.encode()), Some(outcome));
        }
        let orders = [
            OrderOutcome::CustomerNotFound,
            OrderOutcome::Placed("Cs_jyTxubLpvdJXdo8xcQZN6I2RsLrgZ1".into()),
            OrderOutcome::Refused(3, LineError::SubscriptionNotRegistered),
            OrderOutcome::Refused(0, LineError::InvalidInput("quantity 0: is below 1".into())),
            OrderOutcome::Refused(1, LineError::SandboxLimitExceeded("at most 2".into())),
        ];
        for outcome in orders {
            assert_eq!(OrderOutcome::decode(&outcome.encode()), Some(outcome));
        }
        let cancels = [
            CancelOutcome::OrderNotFound,
            CancelOutcome::NotSandbox,
            CancelOutcome::Cancelled("o1".into()),
            CancelOutcome::CustomerNotFound,
        ];
        for outcome in cancels {
            assert_eq!(CancelOutcome::decode(&outcome.encode()), Some(outcome));
        }
        assert_eq!(OrderOutcome::decode("refused:x:{}"), None);
        assert_eq!(CartOutcome::decode("created:1"), None);
    }
}
