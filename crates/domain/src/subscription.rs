//! What a subscription shows: the values the store keeps, and the defaults each kind has for what
//! it does not (offer, unit, billing, term, commitment).
//!
//! | kind | offerId | unitType | billingType | billingCycle | termDuration | commitment ends | renews |
//! |---|---|---|---|---|---|---|---|
//! | `azure` | `MS-AZR-0145P` | `Usage-based` | `usage` | `monthly` | — | `9999-12-31` | no |
//! | `azurePlan` | `DZH318Z0BPS6:0001:DZH318Z0BNTM` | `Usage-based` | `usage` | `monthly` | — | `9999-12-31` | no |
//! | `saas` | `DZH318Z0BXWC:0001:DZH318Z0BMJX` | `License(s)` | `license` | `monthly` | `P1M` | start + term | yes |
//! | `license` | `CFQ7TTC0LH18:0001:CFQ7TTC0K59T` | `Licenses` | `license` | `monthly` | `P1M` | start + term | yes |
//! | `reservation` | its catalog item | `Benefit` | `none` | `one_time` | `P1Y` | start + term | no |
//!
//! The offer name defaults to the kind's (`Microsoft Azure`, `Azure plan`, ...), the friendly name
//! to the offer name, the quantity to 1; the term starts at midnight (UTC) of the day the
//! subscription was created.

use partner_center_model::{
    RegistrationState, SubscriptionId, SubscriptionKind, SubscriptionStatus, Timestamp,
};

/// A subscription as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Its id.
    pub id: SubscriptionId,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status.
    pub status: SubscriptionStatus,
    /// The offer's display name (empty: the kind's).
    pub offer_name: String,
    /// The offer or catalog item, when it is not the kind's.
    pub offer_id: Option<String>,
    /// The name the partner gave it, when it has one.
    pub friendly_name: Option<String>,
    /// How many.
    pub quantity: u32,
    /// The order that created it, when it was bought.
    pub order_id: Option<String>,
    /// Its term (`P1M`, `P1Y`, `P3Y`), when it is not the kind's.
    pub term_duration: Option<String>,
    /// Where its registration stands.
    pub registration: RegistrationState,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was activated, if it was.
    pub activated_at: Option<Timestamp>,
}

/// What a kind of subscription is, when the subscription does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDefaults {
    /// The offer (or catalog item).
    pub offer_id: &'static str,
    /// The offer's name.
    pub offer_name: &'static str,
    /// `Usage-based`, `Licenses`, `License(s)`, `Benefit`.
    pub unit_type: &'static str,
    /// `usage`, `license`, `none`.
    pub billing_type: &'static str,
    /// `monthly`, `one_time`.
    pub billing_cycle: &'static str,
    /// The term, for subscriptions that have one.
    pub term_duration: Option<&'static str>,
    /// Whether it renews by itself.
    pub auto_renew: bool,
}

/// The defaults of `kind`.
#[must_use]
pub const fn defaults(kind: SubscriptionKind) -> KindDefaults {
    match kind {
        SubscriptionKind::Azure => KindDefaults {
            offer_id: "MS-AZR-0145P",
            offer_name: "Microsoft Azure",
            unit_type: "Usage-based",
            billing_type: "usage",
            billing_cycle: "monthly",
            term_duration: None,
            auto_renew: false,
        },
        SubscriptionKind::AzurePlan => KindDefaults {
            offer_id: "DZH318Z0BPS6:0001:DZH318Z0BNTM",
            offer_name: "Azure plan",
            unit_type: "Usage-based",
            billing_type: "usage",
            billing_cycle: "monthly",
            term_duration: None,
            auto_renew: false,
        },
        SubscriptionKind::Saas => KindDefaults {
            offer_id: "DZH318Z0BXWC:0001:DZH318Z0BMJX",
            offer_name: "Marketplace SaaS plan",
            unit_type: "License(s)",
            billing_type: "license",
            billing_cycle: "monthly",
            term_duration: Some("P1M"),
            auto_renew: true,
        },
        SubscriptionKind::License => KindDefaults {
            offer_id: "CFQ7TTC0LH18:0001:CFQ7TTC0K59T",
            offer_name: "Microsoft 365 Business Basic",
            unit_type: "Licenses",
            billing_type: "license",
            billing_cycle: "monthly",
            term_duration: Some("P1M"),
            auto_renew: true,
        },
        SubscriptionKind::Reservation => KindDefaults {
            offer_id: "DZH318Z0BQ36:004G:DZH318Z08C0S",
            offer_name: "Azure reservation",
            unit_type: "Benefit",
            billing_type: "none",
            billing_cycle: "one_time",
            term_duration: Some("P1Y"),
            auto_renew: false,
        },
    }
}

/// How many months a term (`P1M`, `P1Y`, `P3Y`, `P<n>M`, `P<n>Y`) lasts; `None` for another text.
#[must_use]
pub fn term_months(term: &str) -> Option<u32> {
    let rest = term.strip_prefix('P')?;
    let (count, unit) = rest.split_at(rest.len().checked_sub(1)?);
    let count: u32 = count.parse().ok()?;
    match unit {
        "M" => Some(count),
        "Y" => count.checked_mul(12),
        _ => None,
    }
}

/// Everything a subscription shows, its own values with its kind's defaults where it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The offer (or catalog item).
    pub offer_id: String,
    /// The offer's name.
    pub offer_name: String,
    /// The name the partner sees.
    pub friendly_name: String,
    /// The unit.
    pub unit_type: &'static str,
    /// How it is billed.
    pub billing_type: &'static str,
    /// How often.
    pub billing_cycle: &'static str,
    /// Its term.
    pub term_duration: Option<String>,
    /// Whether it renews by itself.
    pub auto_renew: bool,
    /// Midnight (UTC) of the day it was created.
    pub effective_start: Timestamp,
    /// When its commitment ends; `None`: never (usage-based, shown as `9999-12-31`).
    pub commitment_end: Option<Timestamp>,
    /// Whether it is a SaaS subscription waiting for `/activate`.
    pub awaits_activation: bool,
}

/// What `subscription` shows.
#[must_use]
pub fn terms(subscription: &SubscriptionRecord) -> Terms {
    let kind = defaults(subscription.kind);
    let offer_name = if subscription.offer_name.is_empty() {
        kind.offer_name.to_owned()
    } else {
        subscription.offer_name.clone()
    };
    let term_duration = subscription
        .term_duration
        .clone()
        .or_else(|| kind.term_duration.map(str::to_owned));
    let effective_start = subscription.created_at.start_of_day();
    let commitment_end = term_duration
        .as_deref()
        .and_then(term_months)
        .map(|months| effective_start.add_months(months));
    Terms {
        offer_id: subscription
            .offer_id
            .clone()
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| kind.offer_id.to_owned()),
        friendly_name: subscription
            .friendly_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| offer_name.clone()),
        offer_name,
        unit_type: kind.unit_type,
        billing_type: kind.billing_type,
        billing_cycle: kind.billing_cycle,
        term_duration,
        auto_renew: kind.auto_renew,
        effective_start,
        commitment_end,
        awaits_activation: subscription.kind == SubscriptionKind::Saas
            && subscription.status == SubscriptionStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: SubscriptionKind, status: SubscriptionStatus) -> SubscriptionRecord {
        SubscriptionRecord {
            id: "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap(),
            kind,
            status,
            offer_name: String::new(),
            offer_id: None,
            friendly_name: None,
            quantity: 1,
            order_id: None,
            term_duration: None,
            registration: RegistrationState::NotRegistered,
            // 2026-11-25T10:00:00.123Z
            created_at: Timestamp::from_millis(1_795_600_800_123),
            activated_at: None,
        }
    }

    #[test]
    fn terms_count_months_and_years() {
        assert_eq!(term_months("P1M"), Some(1));
        assert_eq!(term_months("P1Y"), Some(12));
        assert_eq!(term_months("P3Y"), Some(36));
        for bad in ["", "P", "1Y", "PY", "P1W", "P-1Y"] {
            assert_eq!(term_months(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_kind_shows_its_defaults_and_its_own_values_win() {
        for kind in SubscriptionKind::ALL {
            for status in SubscriptionStatus::ALL {
                let plain = terms(&record(*kind, *status));
                let expected = defaults(*kind);
                assert_eq!(plain.offer_id, expected.offer_id);
                assert_eq!(plain.offer_name, expected.offer_name);
                assert_eq!(plain.friendly_name, expected.offer_name);
                assert_eq!(plain.unit_type, expected.unit_type);
                assert_eq!(
                    plain.effective_start.to_rfc3339(),
                    "2026-11-25T00:00:00.000Z"
                );
                assert_eq!(
                    plain.commitment_end.map(Timestamp::to_rfc3339),
                    expected.term_duration.map(|term| match term {
                        "P1M" => "2026-12-25T00:00:00.000Z".to_owned(),
                        "P1Y" => "2027-11-25T00:00:00.000Z".to_owned(),
                        other => panic!("{other}"),
                    })
                );
                assert_eq!(
                    plain.awaits_activation,
                    *kind == SubscriptionKind::Saas && *status == SubscriptionStatus::Pending
                );
            }
        }
        let own = terms(&SubscriptionRecord {
            offer_name: "Contoso SaaS".into(),
            offer_id: Some("P:S:A".into()),
            friendly_name: Some("Team plan".into()),
            term_duration: Some("P3Y".into()),
            ..record(SubscriptionKind::Reservation, SubscriptionStatus::Active)
        });
        assert_eq!(
            (
                own.offer_id.as_str(),
                own.offer_name.as_str(),
                own.friendly_name.as_str()
            ),
            ("P:S:A", "Contoso SaaS", "Team plan")
        );
        assert_eq!(
            own.commitment_end.map(Timestamp::to_rfc3339).as_deref(),
            Some("2029-11-25T00:00:00.000Z")
        );
    }
}
