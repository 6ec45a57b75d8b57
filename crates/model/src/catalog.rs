//! The catalog: what can be bought. Each item is a `PRODUCT:SKU:AVAILABILITY` catalog item id, as
//! Partner Center writes it (`DZH318Z0BQ36:004G:DZH318Z08C0S`), of a kind (a reservation or a
//! SaaS plan), with its term, billing cycle and order group; and, for catalog discovery, its
//! product's and SKU's titles, a description, a publisher and the SKU's dynamic attributes. A
//! fixture may declare the catalog (`"catalog": [...]` beside `"partners"`); without one, the
//! service offers a built-in sandbox catalog.

use serde::{Deserialize, Serialize};

/// What a catalog item makes when it is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PurchaseKind {
    /// An Azure reservation, bought on a registered Azure subscription, provisioned in the
    /// background: it makes a subscription of kind `reservation`.
    Reservation,
    /// A commercial-marketplace SaaS plan: it makes a `saas` subscription, `pending` until it is
    /// activated.
    Saas,
}

impl PurchaseKind {
    /// The wire (and storage) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Reservation => "reservation",
            Self::Saas => "saas",
        }
    }
}

/// A catalog item, as a fixture declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogItem {
    /// `PRODUCT:SKU:AVAILABILITY`.
    pub id: String,
    /// What it makes.
    pub kind: PurchaseKind,
    /// Its name (the friendly name of what it makes).
    pub name: String,
    /// Its term: `P1Y`, `P3Y`, `P1M`.
    pub term_duration: String,
    /// `one_time` (reservations) or `monthly` (SaaS).
    pub billing_cycle: String,
    /// The order a cart's lines of this item go into (`0` for reservations, `1` for SaaS by
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_group: Option<String>,
    /// The product's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_title: Option<String>,
    /// The SKU's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_title: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who publishes it (`Microsoft` for reservations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
    /// The SKU's dynamic attributes (for reservations: `armSkuName`, `armRegionName`, `region`,
    /// `duration`, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub dynamic_attributes: serde_json::Map<String, serde_json::Value>,
    /// The SKU's purchase prerequisites (default by kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_prerequisites: Option<Vec<String>>,
    /// Whether an inventory check says it is restricted whatever the region.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
}

impl CatalogItem {
    /// The product, SKU and availability ids of its id; `None` when it is not in that form.
    #[must_use]
    pub fn parts(&self) -> Option<(&str, &str, &str)> {
        let mut parts = self.id.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(p), Some(s), Some(a), None)
                if !p.is_empty() && !s.is_empty() && !a.is_empty() =>
            {
                Some((p, s, a))
            }
            _ => None,
        }
    }
}

/// Checks a declared catalog: every id in the `PRODUCT:SKU:AVAILABILITY` form and unique (in any
/// case), a name, a term such as `P1M`, `P1Y` or `P3Y`, and a billing cycle of `one_time`,
/// `monthly` or `annual`.
///
/// # Errors
///
/// What is wrong with the first item that is wrong.
pub fn check(items: &[CatalogItem]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        if item.parts().is_none() {
            return Err(format!(
                "catalog item id `{}` is not in the PRODUCT:SKU:AVAILABILITY form",
                item.id
            ));
        }
        if !seen.insert(item.id.to_ascii_uppercase()) {
            return Err(format!("catalog item id `{}` appears twice", item.id));
        }
        if item.name.trim().is_empty() {
            return Err(format!("catalog item `{}` has no name", item.id));
        }
        let term = item.term_duration.as_bytes();
        let term_ok = term.len() >= 3
            && term[0] == b'P'
            && matches!(term[term.len() - 1], b'M' | b'Y')
            && term[1..term.len() - 1].iter().all(u8::is_ascii_digit);
        if !term_ok {
            return Err(format!(
                "catalog item `{}` has termDuration `{}`; expected P<n>M or P<n>Y",
                item.id, item.term_duration
            ));
        }
        if !["one_time", "monthly", "annual"].contains(&item.billing_cycle.as_str()) {
            return Err(format!(
                "catalog item `{}` has billingCycle `{}`; expected one_time, monthly or annual",
                item.id, item.billing_cycle
            ));
        }
    }
    Ok(())
}

/// Deserialises a fixture's catalog and [`check`]s it.
pub(crate) fn deserialize_checked<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<CatalogItem>>, D::Error> {
    let items = Option::<Vec<CatalogItem>>::deserialize(deserializer)?;
    if let Some(items) = &items {
        check(items).map_err(serde::de::Error::custom)?;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> CatalogItem {
        serde_json::from_value(serde_json::json!({
            "id": id, "kind": "saas", "name": "Plan", "termDuration": "P1M", "billingCycle": "monthly"
        }))
        .unwrap()
    }

    #[test]
    fn a_declared_catalog_is_checked() {
        assert_eq!(check(&[item("A:B:C"), item("A:B:D")]), Ok(()));
        assert!(check(&[item("A:B")]).unwrap_err().contains("form"));
        assert!(check(&[item("A:B:C:D")]).unwrap_err().contains("form"));
        assert!(
            check(&[item("A:B:C"), item("a:b:c")])
                .unwrap_err()
                .contains("twice")
        );
        let mut bad = item("A:B:C");
        bad.term_duration = "1Y".into();
        assert!(check(&[bad]).unwrap_err().contains("termDuration"));
        let mut bad = item("A:B:C");
        bad.billing_cycle = "weekly".into();
        assert!(check(&[bad]).unwrap_err().contains("billingCycle"));
        let mut bad = item("A:B:C");
        bad.name = " ".into();
        assert!(check(&[bad]).unwrap_err().contains("no name"));
    }
}
