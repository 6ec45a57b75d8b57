//! What operators create, update and delete through the admin API. Unlike a fixture, an operator's
//! put sets every field it names (a subscription's status included); a subscription's
//! registration is never set this way (a new one is `NotRegistered`).

use crate::change::SubscriptionValues;
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{TenantId, Timestamp};

use crate::{Change, CustomerKey, Decision, Lookup, Partner, SubscriptionKey, Upserted};

/// Creates or updates a partner (`existed`: whether it did before).
pub fn put_partner(partner: Partner, existed: bool, now: Timestamp) -> Decision<Upserted> {
    Decision::with(
        Upserted::existed(existed),
        Change::PartnerPut { partner, at: now },
    )
}

/// Deletes a partner and everything that is its; `false` when there was none.
pub fn delete_partner(tenant: TenantId, existed: bool) -> Decision<bool> {
    deleted(existed, Change::PartnerDeleted(tenant))
}

/// Creates or updates a customer of a partner (its company name, and its domain: given, or
/// derived when `None`); `None` when there is no such partner.
pub fn put_customer(
    partner_exists: bool,
    existed: bool,
    key: CustomerKey,
    company_name: String,
    domain: Option<String>,
    now: Timestamp,
) -> Decision<Option<Upserted>> {
    if !partner_exists {
        return Decision::answer(None);
    }
    Decision::with(
        Some(Upserted::existed(existed)),
        Change::CustomerPut {
            key,
            company_name,
            domain,
            at: now,
        },
    )
}

/// Deletes a customer and its subscriptions; `false` when there was none.
pub fn delete_customer(key: CustomerKey, existed: bool) -> Decision<bool> {
    deleted(existed, Change::CustomerDeleted(key))
}

/// Creates or updates a subscription with the fields of `spec` (its id is `key`'s). `found` says
/// whether the customer exists (`Found`) and, if so, whether the subscription did.
pub fn put_subscription(
    key: SubscriptionKey,
    found: Lookup<bool>,
    spec: &FixtureSubscription,
    now: Timestamp,
) -> Decision<Lookup<Upserted>> {
    let existed = match found {
        Lookup::Found(existed) => existed,
        // A customer that exists has every subscription a put names.
        Lookup::CustomerNotFound | Lookup::SubscriptionNotFound => {
            return Decision::answer(Lookup::CustomerNotFound);
        }
    };
    Decision::with(
        Lookup::Found(Upserted::existed(existed)),
        Change::SubscriptionPut(SubscriptionValues {
            key,
            kind: spec.kind,
            status: spec.status,
            offer_name: spec.offer_name.clone(),
            offer_id: spec.offer_id.clone(),
            friendly_name: spec.friendly_name.clone(),
            quantity: spec.quantity(),
            order_id: None,
            term_duration: None,
            at: now,
        }),
    )
}

/// Deletes a subscription and its registrations; `false` when there was none.
pub fn delete_subscription(key: SubscriptionKey, existed: bool) -> Decision<bool> {
    deleted(existed, Change::SubscriptionDeleted(key))
}

/// Deletes every partner (and so everything: customers, subscriptions, carts, orders), the
/// declared catalog (the built-in one is offered again) and every idempotency record; the identity
/// provider's signing key stays.
pub fn reset() -> Decision<()> {
    Decision::with((), Change::Reset)
}

fn deleted(existed: bool, change: Change) -> Decision<bool> {
    if existed {
        Decision::with(true, change)
    } else {
        Decision::answer(false)
    }
}

#[cfg(test)]
mod tests {
    use partner_center_model::{SubscriptionKind, SubscriptionStatus};

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

    fn key() -> SubscriptionKey {
        SubscriptionKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            subscription: "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap(),
        }
    }

    #[test]
    fn puts_say_whether_they_created_and_always_write() {
        let partner = Partner {
            tenant_id: key().partner,
            name: "P".into(),
            sandbox: true,
        };
        for existed in [false, true] {
            let decision = put_partner(partner.clone(), existed, NOW);
            assert_eq!(decision.outcome, Upserted::existed(existed));
            assert_eq!(
                decision.changes,
                [Change::PartnerPut {
                    partner: partner.clone(),
                    at: NOW
                }]
            );
            let customer = put_customer(true, existed, key().customer_key(), "C".into(), None, NOW);
            assert_eq!(customer.outcome, Some(Upserted::existed(existed)));
            assert_eq!(customer.changes.len(), 1);
            let spec = FixtureSubscription {
                offer_name: "O".into(),
                ..FixtureSubscription::new(
                    key().subscription,
                    SubscriptionKind::Saas,
                    SubscriptionStatus::Suspended,
                )
            };
            let subscription = put_subscription(key(), Lookup::Found(existed), &spec, NOW);
            assert_eq!(
                subscription.outcome,
                Lookup::Found(Upserted::existed(existed))
            );
            assert_eq!(
                subscription.changes,
                [Change::SubscriptionPut(SubscriptionValues {
                    key: key(),
                    kind: SubscriptionKind::Saas,
                    status: SubscriptionStatus::Suspended,
                    offer_name: "O".into(),
                    offer_id: None,
                    friendly_name: None,
                    quantity: 1,
                    order_id: None,
                    term_duration: None,
                    at: NOW
                })]
            );
        }
        assert_eq!(Upserted::existed(false), Upserted::Created);
    }

    #[test]
    fn nothing_is_put_under_an_owner_that_does_not_exist() {
        let customer = put_customer(false, false, key().customer_key(), "C".into(), None, NOW);
        assert_eq!(customer.outcome, None);
        assert!(customer.changes.is_empty());
        let spec = FixtureSubscription::new(
            key().subscription,
            SubscriptionKind::Saas,
            SubscriptionStatus::Active,
        );
        let subscription = put_subscription(key(), Lookup::CustomerNotFound, &spec, NOW);
        assert_eq!(subscription.outcome, Lookup::CustomerNotFound);
        assert!(subscription.changes.is_empty());
    }

    #[test]
    fn deletes_write_only_what_existed() {
        for existed in [false, true] {
            for decision in [
                delete_partner(key().partner, existed),
                delete_customer(key().customer_key(), existed),
                delete_subscription(key(), existed),
            ] {
                assert_eq!(decision.outcome, existed);
                assert_eq!(decision.changes.len(), usize::from(existed));
            }
        }
        assert_eq!(reset().changes, [Change::Reset]);
    }
}
