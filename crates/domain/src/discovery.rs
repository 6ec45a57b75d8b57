//! Catalog discovery: the catalog (`crate::catalog`) as Partner Center's products, SKUs and
//! availabilities, and the inventory check. A catalog item `P:S:A` is product `P`, SKU `S`,
//! availability `A`; a product's and a SKU's own fields are those of their first item.
//!
//! - Target views: `AzureReservationsVM`, `AzureReservations` and `Azure` list the reservation
//!   products; `OnlineServices` lists the SaaS products; Partner Center's other documented views
//!   list nothing here; any other view is not allowed (403, 400036).
//! - A reservation SKU needs `CustomerId`, `AzureSubscriptionId` and `ArmRegionName` for an
//!   inventory check, and `Scope`, `SubscriptionId`, `Duration` to be provisioned; a SaaS SKU needs
//!   neither. It is restricted when the region asked for is not its own (its `armRegionName`), or
//!   when the catalog marks it `restricted` (then a purchase of it fails too, 10003 / 800010).

use std::collections::BTreeMap;

use partner_center_model::catalog::{CatalogItem, PurchaseKind};

use crate::catalog::{self, Catalog};

/// The views that list the reservation products.
const RESERVATION_VIEWS: [&str; 3] = ["AzureReservationsVM", "AzureReservations", "Azure"];
/// The view that lists the SaaS (commercial-marketplace) products.
const SAAS_VIEWS: [&str; 1] = ["OnlineServices"];
/// Partner Center's other documented views: they list nothing here.
const EMPTY_VIEWS: [&str; 7] = [
    "AzureReservationsSQL",
    "AzureReservationsCosmosDb",
    "MicrosoftAzure",
    "Software",
    "SoftwareSUSELinux",
    "SoftwarePerpetual",
    "SoftwareSubscriptions",
];

/// What a target view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The products of this kind.
    Of(PurchaseKind),
    /// Nothing: a documented view of products this service does not sell.
    Nothing,
}

impl View {
    /// The view `name` (in any case); `None` for an undocumented one, which is not allowed.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let is = |views: &[&str]| views.iter().any(|v| v.eq_ignore_ascii_case(name.trim()));
        if is(&RESERVATION_VIEWS) {
            Some(Self::Of(PurchaseKind::Reservation))
        } else if is(&SAAS_VIEWS) {
            Some(Self::Of(PurchaseKind::Saas))
        } else if is(&EMPTY_VIEWS) {
            Some(Self::Nothing)
        } else {
            None
        }
    }
}

/// Whether a `targetSegment` may be read: `commercial` only (the others are not allowed, 403
/// 400030, as for a partner not enrolled in them).
#[must_use]
pub fn segment_allowed(segment: &str) -> bool {
    segment.trim().eq_ignore_ascii_case("commercial")
}

/// A country as the routes take it: two ASCII letters, in any case; upper-cased.
///
/// # Errors
///
/// Why it is not one.
pub fn country(value: Option<&str>) -> Result<String, String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).ok_or(
        "the country query parameter is required (an ISO 3166 two-letter code, e.g. country=US)",
    )?;
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(value.to_ascii_uppercase())
    } else {
        Err(format!(
            "country `{value}` is not an ISO 3166 two-letter code (e.g. US)"
        ))
    }
}

/// A product: its id, and its items (all of its SKUs' availabilities), in catalog order.
#[derive(Debug, Clone)]
pub struct ProductView<'a> {
    /// Its id.
    pub id: &'a str,
    items: Vec<&'a CatalogItem>,
}

impl<'a> ProductView<'a> {
    fn first(&self) -> &'a CatalogItem {
        self.items[0]
    }

    /// What it sells.
    #[must_use]
    pub fn kind(&self) -> PurchaseKind {
        self.first().kind
    }

    /// Its title.
    #[must_use]
    pub fn title(&self) -> String {
        let first = self.first();
        first
            .product_title
            .clone()
            .unwrap_or_else(|| first.name.clone())
    }

    /// What it is.
    #[must_use]
    pub fn description(&self) -> String {
        match self.kind() {
            PurchaseKind::Reservation => format!(
                "{}: save by reserving a virtual machine size in a region for a term, paid up front.",
                self.title()
            ),
            PurchaseKind::Saas => format!(
                "{}, a software-as-a-service offer of the commercial marketplace by {}.",
                self.title(),
                self.publisher()
            ),
        }
    }

    /// Who publishes it (`Microsoft` for reservations).
    #[must_use]
    pub fn publisher(&self) -> String {
        let first = self.first();
        first
            .publisher_name
            .clone()
            .unwrap_or_else(|| match first.kind {
                PurchaseKind::Reservation => "Microsoft".to_owned(),
                PurchaseKind::Saas => "Unknown publisher".to_owned(),
            })
    }

    /// Whether Microsoft publishes it.
    #[must_use]
    pub fn is_microsoft(&self) -> bool {
        self.publisher() == "Microsoft"
    }

    /// Its SKUs, in catalog order.
    #[must_use]
    pub fn skus(&self) -> Vec<SkuView<'a>> {
        let mut skus: Vec<SkuView<'a>> = Vec::new();
        for item in &self.items {
            let Some((_, sku, _)) = item.parts() else {
                continue;
            };
            match skus.iter_mut().find(|s| s.id == sku) {
                Some(found) => found.items.push(item),
                None => skus.push(SkuView {
                    product_id: self.id,
                    id: sku,
                    items: vec![item],
                }),
            }
        }
        skus
    }

    /// Its SKU `id` (in any case).
    #[must_use]
    pub fn sku(&self, id: &str) -> Option<SkuView<'a>> {
        self.skus()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(id.trim()))
    }
}

/// A SKU: its ids, and its items (its availabilities), in catalog order.
#[derive(Debug, Clone)]
pub struct SkuView<'a> {
    /// Its product.
    pub product_id: &'a str,
    /// Its id.
    pub id: &'a str,
    items: Vec<&'a CatalogItem>,
}

impl<'a> SkuView<'a> {
    /// The item that stands for the SKU: its first availability.
    #[must_use]
    pub fn item(&self) -> &'a CatalogItem {
        self.items[0]
    }

    /// Its title.
    #[must_use]
    pub fn title(&self) -> String {
        let item = self.item();
        item.sku_title.clone().unwrap_or_else(|| item.name.clone())
    }

    /// What it is.
    #[must_use]
    pub fn description(&self) -> String {
        let item = self.item();
        item.description
            .clone()
            .unwrap_or_else(|| item.name.clone())
    }

    /// The fewest and the most that can be bought.
    #[must_use]
    pub fn quantities(&self) -> (u32, u32) {
        match self.item().kind {
            PurchaseKind::Reservation => (1, 999_999_999),
            PurchaseKind::Saas => (1, 10_000),
        }
    }

    /// The billing cycles of its availabilities, each once.
    #[must_use]
    pub fn billing_cycles(&self) -> Vec<String> {
        let mut cycles: Vec<String> = Vec::new();
        for item in &self.items {
            if !cycles.contains(&item.billing_cycle) {
                cycles.push(item.billing_cycle.clone());
            }
        }
        cycles
    }

    /// What a purchase of it needs first.
    #[must_use]
    pub fn purchase_prerequisites(&self) -> Vec<String> {
        catalog::purchase_prerequisites(self.item())
    }

    /// What an inventory check of it needs in its context.
    #[must_use]
    pub fn inventory_variables(&self) -> &'static [&'static str] {
        match self.item().kind {
            PurchaseKind::Reservation => &["CustomerId", "AzureSubscriptionId", "ArmRegionName"],
            PurchaseKind::Saas => &[],
        }
    }

    /// What a purchase of it needs in its provisioning context.
    #[must_use]
    pub fn provisioning_variables(&self) -> &'static [&'static str] {
        match self.item().kind {
            PurchaseKind::Reservation => &["Scope", "SubscriptionId", "Duration"],
            PurchaseKind::Saas => &[],
        }
    }

    /// Its availabilities, in catalog order.
    #[must_use]
    pub fn availabilities(&self) -> Vec<AvailabilityView<'a>> {
        self.items
            .iter()
            .filter_map(|item| {
                let (_, _, id) = item.parts()?;
                Some(AvailabilityView { id, item })
            })
            .collect()
    }

    /// Its availability `id` (in any case).
    #[must_use]
    pub fn availability(&self, id: &str) -> Option<AvailabilityView<'a>> {
        self.availabilities()
            .into_iter()
            .find(|a| a.id.eq_ignore_ascii_case(id.trim()))
    }
}

/// An availability: a catalog item.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityView<'a> {
    /// Its id.
    pub id: &'a str,
    /// The catalog item it is.
    pub item: &'a CatalogItem,
}

impl AvailabilityView<'_> {
    /// Whether it renews by itself.
    #[must_use]
    pub fn renewable(&self) -> bool {
        self.item.kind == PurchaseKind::Saas
    }

    /// Its term's description: `1 Year Prepaid`, `1 Month`, ...
    #[must_use]
    pub fn term_description(&self) -> String {
        let term = &self.item.term_duration;
        let (count, unit) = term
            .strip_prefix('P')
            .map(|rest| rest.split_at(rest.len().saturating_sub(1)))
            .unwrap_or(("", ""));
        let unit = match (unit, count) {
            ("Y", "1") => "Year",
            ("Y", _) => "Years",
            ("M", "1") => "Month",
            ("M", _) => "Months",
            _ => return term.clone(),
        };
        let prepaid = if self.item.billing_cycle == "one_time" {
            " Prepaid"
        } else {
            ""
        };
        format!("{count} {unit}{prepaid}")
    }
}

/// The products a view lists, in catalog order.
#[must_use]
pub fn products(catalog: &Catalog, view: View) -> Vec<ProductView<'_>> {
    let View::Of(kind) = view else {
        return Vec::new();
    };
    all_products(catalog)
        .into_iter()
        .filter(|p| p.kind() == kind)
        .collect()
}

fn all_products(catalog: &Catalog) -> Vec<ProductView<'_>> {
    let mut products: Vec<ProductView<'_>> = Vec::new();
    for item in catalog.items() {
        let Some((product, _, _)) = item.parts() else {
            continue;
        };
        match products.iter_mut().find(|p| p.id == product) {
            Some(found) => found.items.push(item),
            None => products.push(ProductView {
                id: product,
                items: vec![item],
            }),
        }
    }
    products
}

/// The product `id` (in any case).
#[must_use]
pub fn product<'a>(catalog: &'a Catalog, id: &str) -> Option<ProductView<'a>> {
    all_products(catalog)
        .into_iter()
        .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
}

/// What is missing, when a product, SKU or availability is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such product (400013).
    Product,
    /// No such SKU of the product (400018).
    Sku,
    /// No such availability of the SKU (400019).
    Availability,
}

/// The SKU `sku` of product `product`.
///
/// # Errors
///
/// Which of the two is missing.
pub fn sku<'a>(catalog: &'a Catalog, product: &str, sku: &str) -> Result<SkuView<'a>, Missing> {
    self::product(catalog, product)
        .ok_or(Missing::Product)?
        .sku(sku)
        .ok_or(Missing::Sku)
}

/// The availability `availability` of SKU `sku` of product `product`.
///
/// # Errors
///
/// Which of the three is missing.
pub fn availability<'a>(
    catalog: &'a Catalog,
    product: &str,
    sku: &str,
    availability: &str,
) -> Result<AvailabilityView<'a>, Missing> {
    self::sku(catalog, product, sku)?
        .availability(availability)
        .ok_or(Missing::Availability)
}

/// Why an inventory check found a SKU restricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// The region asked for is not the SKU's.
    Location(String),
    /// The catalog marks the SKU restricted.
    Marked,
}

/// What an inventory check found for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The product.
    pub product_id: String,
    /// The SKU.
    pub sku_id: String,
    /// Why it is restricted, if it is.
    pub restriction: Option<Restriction>,
}

/// Checks the inventory of `targets` (a product, and one of its SKUs or all of them) in `context`
/// (keys in any case). Unknown products and SKUs are left out.
///
/// # Errors
///
/// The inventory variable (as the SKU names it) a checked SKU needs and the context lacks.
pub fn check_inventory(
    catalog: &Catalog,
    targets: &[(String, Option<String>)],
    context: &BTreeMap<String, String>,
) -> Result<Vec<Checked>, &'static str> {
    let value = |variable: &str| {
        context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(variable))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut checked = Vec::new();
    for (product, sku) in targets {
        let Some(product) = self::product(catalog, product) else {
            continue;
        };
        let skus = match sku {
            Some(sku) => product.sku(sku).into_iter().collect(),
            None => product.skus(),
        };
        for sku in skus {
            if let Some(missing) = sku
                .inventory_variables()
                .iter()
                .find(|variable| value(variable).is_none())
            {
                return Err(missing);
            }
            let item = sku.item();
            let region = catalog::arm_region(item);
            let asked = value("ArmRegionName");
            let restriction = if item.restricted {
                Some(Restriction::Marked)
            } else {
                match (region, asked) {
                    (Some(own), Some(asked)) if !own.eq_ignore_ascii_case(asked) => {
                        Some(Restriction::Location(asked.to_owned()))
                    }
                    _ => None,
                }
            };
            checked.push(Checked {
                product_id: product.id.to_owned(),
                sku_id: sku.id.to_owned(),
                restriction,
            });
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_list_reservations_saas_nothing_or_are_not_allowed() {
        let catalog = Catalog::builtin();
        for view in ["AzureReservationsVM", "azurereservations", "Azure"] {
            let listed = products(&catalog, View::parse(view).unwrap());
            assert_eq!(listed.len(), 1, "{view}");
            assert_eq!(listed[0].id, catalog::RESERVATION_PRODUCT);
            assert!(listed[0].is_microsoft());
        }
        let saas = products(&catalog, View::parse("OnlineServices").unwrap());
        assert_eq!(saas.len(), 1);
        assert_eq!(saas[0].publisher(), "Contoso Ltd");
        assert!(!saas[0].is_microsoft());
        assert!(products(&catalog, View::parse("Software").unwrap()).is_empty());
        assert_eq!(View::parse("Everything"), None);
        assert!(segment_allowed("Commercial") && !segment_allowed("education"));
    }

    #[test]
    fn countries_are_two_letters() {
        assert_eq!(country(Some("us")), Ok("US".to_owned()));
        assert!(country(None).unwrap_err().contains("required"));
        assert!(country(Some(" ")).unwrap_err().contains("required"));
        assert!(country(Some("USA")).unwrap_err().contains("USA"));
        assert!(country(Some("U1")).is_err());
    }

    #[test]
    fn products_skus_and_availabilities_come_from_the_catalog_items() {
        let catalog = Catalog::builtin();
        let product = product(&catalog, "dzh318z0bq36").unwrap();
        let skus = product.skus();
        assert_eq!(
            skus.iter().map(|s| s.id).collect::<Vec<_>>(),
            ["0047", "0048", "0049", "004A", "004B"]
        );
        let eastus = sku(&catalog, "DZH318Z0BQ36", "0048").unwrap();
        assert_eq!(eastus.billing_cycles(), ["one_time"]);
        assert_eq!(
            eastus.purchase_prerequisites(),
            ["AzureSubscriptionRegistration", "InventoryCheck"]
        );
        assert_eq!(eastus.inventory_variables().len(), 3);
        let available = eastus.availabilities();
        assert_eq!(available.len(), 1);
        assert_eq!(available[0].item.id, "DZH318Z0BQ36:0048:DZH318Z08C0T");
        assert_eq!(available[0].term_description(), "1 Year Prepaid");
        assert!(!available[0].renewable());
        assert_eq!(sku(&catalog, "NOPE", "0048").unwrap_err(), Missing::Product);
        assert_eq!(
            sku(&catalog, "DZH318Z0BQ36", "9999").unwrap_err(),
            Missing::Sku
        );
        assert_eq!(
            availability(&catalog, "DZH318Z0BQ36", "0048", "X").unwrap_err(),
            Missing::Availability
        );
        let plan = availability(&catalog, "DZH318Z0BXWC", "0001", "dzh318z0bmjx").unwrap();
        assert_eq!(
            (plan.term_description(), plan.renewable()),
            ("1 Month".to_owned(), true)
        );
        assert!(
            sku(&catalog, "DZH318Z0BXWC", "0001")
                .unwrap()
                .inventory_variables()
                .is_empty()
        );
    }

    #[test]
    fn an_inventory_check_restricts_other_regions_and_marked_skus() {
        let catalog = Catalog::builtin();
        let context = |region: &str| {
            BTreeMap::from([
                ("CUSTOMERID".to_owned(), "c".to_owned()),
                ("azureSubscriptionId".to_owned(), "s".to_owned()),
                ("armRegionName".to_owned(), region.to_owned()),
            ])
        };
        let target = vec![("DZH318Z0BQ36".to_owned(), Some("0048".to_owned()))];
        let here = check_inventory(&catalog, &target, &context("EastUS")).unwrap();
        assert_eq!(here[0].restriction, None);
        let elsewhere = check_inventory(&catalog, &target, &context("westus2")).unwrap();
        assert_eq!(
            elsewhere[0].restriction,
            Some(Restriction::Location("westus2".into()))
        );
        // Every SKU of the product when none is named; unknown products and SKUs left out.
        let all = vec![
            ("DZH318Z0BQ36".to_owned(), None),
            ("NOPE".to_owned(), None),
            ("DZH318Z0BQ36".to_owned(), Some("9999".to_owned())),
        ];
        let checked = check_inventory(&catalog, &all, &context("eastus")).unwrap();
        assert_eq!(checked.len(), 5);
        assert_eq!(
            checked.iter().filter(|c| c.restriction.is_none()).count(),
            1
        );
        // A missing context item is named; a SaaS SKU needs none.
        let mut partial = context("eastus");
        partial.remove("azureSubscriptionId");
        assert_eq!(
            check_inventory(&catalog, &target, &partial),
            Err("AzureSubscriptionId")
        );
        let saas = vec![("DZH318Z0BXWC".to_owned(), None)];
        assert_eq!(
            check_inventory(&catalog, &saas, &BTreeMap::new())
                .unwrap()
                .len(),
            2
        );
        // A SKU the catalog marks restricted is restricted wherever it is asked for.
        let mut items = catalog.items().to_vec();
        items[1].restricted = true;
        let marked = Catalog::of(items);
        let checked = check_inventory(&marked, &target, &context("eastus")).unwrap();
        assert_eq!(checked[0].restriction, Some(Restriction::Marked));
    }
}
