//! The catalog a partner buys from: the fixture's, or the built-in sandbox catalog, which offers
//! what the integration sandbox does: the five Standard_B1s one-year VM reservations it allows
//! (KoreaSouth, eastus, westus2, northcentralus, CanadaEast) and two SaaS plans of a marketplace
//! publisher. The ids are illustrative, in Partner Center's `PRODUCT:SKU:AVAILABILITY` form.

use partner_center_model::catalog::{CatalogItem, PurchaseKind};
use serde_json::json;

/// The reservations' product.
pub const RESERVATION_PRODUCT: &str = "DZH318Z0BQ36";
/// The SaaS plans' product.
pub const SAAS_PRODUCT: &str = "DZH318Z0BXWC";

/// What can be bought.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    items: Vec<CatalogItem>,
}

impl Catalog {
    /// The catalog of `items`; the built-in one when there are none.
    #[must_use]
    pub fn of(items: Vec<CatalogItem>) -> Self {
        if items.is_empty() {
            Self::builtin()
        } else {
            Self { items }
        }
    }

    /// The built-in sandbox catalog.
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            items: builtin_items(),
        }
    }

    /// Every item, in catalog order.
    #[must_use]
    pub fn items(&self) -> &[CatalogItem] {
        &self.items
    }

    /// The item `id` (in any case), if the catalog has it.
    #[must_use]
    pub fn find(&self, id: &str) -> Option<&CatalogItem> {
        self.items
            .iter()
            .find(|item| item.id.eq_ignore_ascii_case(id.trim()))
    }
}

/// The order group of an item: its own, or its kind's (`0` reservations, `1` SaaS).
#[must_use]
pub fn order_group(item: &CatalogItem) -> String {
    item.order_group.clone().unwrap_or_else(|| {
        match item.kind {
            PurchaseKind::Reservation => "0",
            PurchaseKind::Saas => "1",
        }
        .to_owned()
    })
}

/// The purchase prerequisites of an item: its own, or its kind's (a reservation needs a
/// registered Azure subscription and an inventory check).
#[must_use]
pub fn purchase_prerequisites(item: &CatalogItem) -> Vec<String> {
    item.purchase_prerequisites
        .clone()
        .unwrap_or_else(|| match item.kind {
            PurchaseKind::Reservation => vec![
                "AzureSubscriptionRegistration".to_owned(),
                "InventoryCheck".to_owned(),
            ],
            PurchaseKind::Saas => Vec::new(),
        })
}

/// The Azure region an item's reservation is in (`armRegionName`), if it says.
#[must_use]
pub fn arm_region(item: &CatalogItem) -> Option<&str> {
    item.dynamic_attributes
        .get("armRegionName")
        .and_then(serde_json::Value::as_str)
}

fn builtin_items() -> Vec<CatalogItem> {
    let regions = [
        (
            "0047",
            "DZH318Z08C0S",
            "koreasouth",
            "KoreaSouth",
            "Korea South",
        ),
        ("0048", "DZH318Z08C0T", "eastus", "eastus", "US East"),
        ("0049", "DZH318Z08C0V", "westus2", "westus2", "US West 2"),
        (
            "004A",
            "DZH318Z08C0W",
            "northcentralus",
            "northcentralus",
            "US North Central",
        ),
        (
            "004B",
            "DZH318Z08C0X",
            "canadaeast",
            "CanadaEast",
            "Canada East",
        ),
    ];
    let mut items: Vec<CatalogItem> = regions
        .into_iter()
        .map(|(sku, availability, arm_region, name, region)| {
            let title = format!("Reserved VM Instance, Standard_B1s, {region}, 1 Year");
            CatalogItem {
                id: format!("{RESERVATION_PRODUCT}:{sku}:{availability}"),
                kind: PurchaseKind::Reservation,
                name: format!("Reserved VM Instance, Standard_B1s, {name}, 1 Year"),
                term_duration: "P1Y".to_owned(),
                billing_cycle: "one_time".to_owned(),
                order_group: None,
                product_title: Some("Reserved Virtual Machine Instances".to_owned()),
                sku_title: Some(title),
                description: Some(format!(
                    "Standard_B1s virtual machine reserved for one year in {region}: 1 vCPU, 1 GiB of memory."
                )),
                publisher_name: Some("Microsoft".to_owned()),
                dynamic_attributes: json!({
                    "armSkuName": "Standard_B1s",
                    "armRegionName": arm_region,
                    "region": region,
                    "duration": "1Year",
                    "cores": 1,
                    "ram": "1 GB",
                    "skuDisplayName": "Standard_B1s",
                    "category": "BS series",
                    "reservationsAutofitGroup": "BS Series High Memory",
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
                purchase_prerequisites: None,
                restricted: false,
            }
        })
        .collect();
    for (sku, availability, plan, description) in [
        (
            "0001",
            "DZH318Z0BMJX",
            "Basic",
            "Nightly backups of one workload, kept for 30 days.",
        ),
        (
            "0002",
            "DZH318Z0BMRV",
            "Standard",
            "Hourly backups of up to ten workloads, kept for a year.",
        ),
    ] {
        items.push(CatalogItem {
            id: format!("{SAAS_PRODUCT}:{sku}:{availability}"),
            kind: PurchaseKind::Saas,
            name: format!("Contoso Cloud Backup - {plan} Plan"),
            term_duration: "P1M".to_owned(),
            billing_cycle: "monthly".to_owned(),
            order_group: None,
            product_title: Some("Contoso Cloud Backup".to_owned()),
            sku_title: Some(format!("{plan} Plan")),
            description: Some(description.to_owned()),
            publisher_name: Some("Contoso Ltd".to_owned()),
            dynamic_attributes: serde_json::Map::new(),
            purchase_prerequisites: None,
            restricted: false,
        });
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_offers_the_sandbox_reservations_and_two_saas_plans() {
        let catalog = Catalog::builtin();
        let reservations: Vec<&CatalogItem> = catalog
            .items()
            .iter()
            .filter(|i| i.kind == PurchaseKind::Reservation)
            .collect();
        let regions: Vec<&str> = reservations.iter().filter_map(|i| arm_region(i)).collect();
        assert_eq!(
            regions,
            [
                "koreasouth",
                "eastus",
                "westus2",
                "northcentralus",
                "canadaeast"
            ]
        );
        assert!(reservations.iter().all(|i| i.term_duration == "P1Y"
            && i.billing_cycle == "one_time"
            && i.name.contains("Standard_B1s")
            && order_group(i) == "0"));
        let saas: Vec<&CatalogItem> = catalog
            .items()
            .iter()
            .filter(|i| i.kind == PurchaseKind::Saas)
            .collect();
        assert_eq!(saas.len(), 2);
        assert!(
            saas.iter()
                .all(|i| i.publisher_name.as_deref() == Some("Contoso Ltd")
                    && order_group(i) == "1"
                    && purchase_prerequisites(i).is_empty())
        );
        for item in catalog.items() {
            assert!(item.parts().is_some(), "{}", item.id);
            assert_eq!(catalog.find(&item.id.to_lowercase()), Some(item));
        }
        assert_eq!(catalog.find("NOPE:00:00"), None);
        assert_eq!(
            purchase_prerequisites(reservations[0]),
            ["AzureSubscriptionRegistration", "InventoryCheck"]
        );
    }

    #[test]
    fn a_declared_catalog_replaces_the_builtin_one() {
        let own = CatalogItem {
            id: "P:S:A".into(),
            ..Catalog::builtin().items()[0].clone()
        };
        let catalog = Catalog::of(vec![own.clone()]);
        assert_eq!(catalog.items(), [own]);
        assert_eq!(Catalog::of(Vec::new()), Catalog::builtin());
    }
}
