//! `partner-center catalog list | products | skus | availabilities | inventory`: catalog discovery
//! from the command line, through the SDK (against this service or the real Partner Center).

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use partner_center_client::model::product::{InventoryCheckRequest, InventoryTarget};
use partner_center_client::model::{CustomerId, SubscriptionId};
use partner_center_client::{Error, PartnerCenter};

use crate::client::{ClientArgs, Failure, Output, finish, ids, rows};

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// List every catalog item: the reservation products' and the SaaS products' availabilities,
    /// with the `catalogItemId` a purchase names.
    List(Country),
    /// List the products of a target view (AzureReservationsVM, OnlineServices, ...).
    Products(ProductsArgs),
    /// List a product's SKUs.
    Skus(SkusArgs),
    /// List a SKU's availabilities (their catalogItemIds).
    Availabilities(AvailabilitiesArgs),
    /// Check whether a product's SKUs (or one of them) can be bought for a customer's
    /// subscription in a region.
    Inventory(InventoryArgs),
}

/// The country and the client.
#[derive(Debug, Args)]
pub(crate) struct Country {
    /// The country the catalog is read for (ISO 3166 two-letter code).
    #[arg(long, env = "PC_COUNTRY", default_value = "US")]
    country: String,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ProductsArgs {
    /// The target view: AzureReservationsVM (reserved VM instances), OnlineServices (SaaS), ...
    #[arg(long, default_value = "AzureReservationsVM")]
    target_view: String,

    #[command(flatten)]
    of: Country,
}

#[derive(Debug, Args)]
pub(crate) struct SkusArgs {
    /// The product.
    #[arg(long)]
    product: String,

    #[command(flatten)]
    of: Country,
}

#[derive(Debug, Args)]
pub(crate) struct AvailabilitiesArgs {
    /// The product.
    #[arg(long)]
    product: String,

    /// The SKU.
    #[arg(long)]
    sku: String,

    #[command(flatten)]
    of: Country,
}

#[derive(Debug, Args)]
pub(crate) struct InventoryArgs {
    /// The product.
    #[arg(long)]
    product: String,

    /// The SKU (every SKU of the product when absent).
    #[arg(long)]
    sku: Option<String>,

    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The Azure subscription the reservation would apply to.
    #[arg(long, env = "PC_SUBSCRIPTION", value_name = "GUID")]
    subscription: SubscriptionId,

    /// The Azure region (armRegionName), e.g. eastus.
    #[arg(long)]
    region: String,

    #[command(flatten)]
    of: Country,
}

/// The view that lists the reservation products, and the one that lists the SaaS products.
const VIEWS: [(&str, &str); 2] = [
    ("AzureReservations", "reservation"),
    ("OnlineServices", "saas"),
];

/// One line of `catalog list`: catalog item id, kind, term, billing cycle, name.
async fn catalog_rows(partner: &PartnerCenter, country: &str) -> Result<Vec<Vec<String>>, Error> {
    let products = partner.products().by_country(country);
    let mut lines = Vec::new();
    for (view, kind) in VIEWS {
        for product in products.by_target_view(view).await?.items {
            let skus = products.by_id(&product.id).skus();
            for sku in skus.get().await?.items {
                let billing = sku
                    .supported_billing_cycles
                    .first()
                    .cloned()
                    .unwrap_or_default();
                for availability in skus.by_id(&sku.id).availabilities().await?.items {
                    let term = availability
                        .terms
                        .first()
                        .map(|t| t.duration.clone())
                        .unwrap_or_default();
                    lines.push(vec![
                        availability.catalog_item_id,
                        kind.to_owned(),
                        term,
                        billing.clone(),
                        sku.title.clone(),
                    ]);
                }
            }
        }
    }
    Ok(lines)
}

/// `partner-center catalog ...`.
pub(crate) async fn catalog(command: CatalogCommand) -> ExitCode {
    let output = match &command {
        CatalogCommand::List(of) => of.client.output,
        CatalogCommand::Products(args) => args.of.client.output,
        CatalogCommand::Skus(args) => args.of.client.output,
        CatalogCommand::Availabilities(args) => args.of.client.output,
        CatalogCommand::Inventory(args) => args.of.client.output,
    };
    finish(run(command, output).await.map_err(Failure::Sdk), output)
}

async fn run(command: CatalogCommand, output: Output) -> Result<String, Error> {
    match command {
        CatalogCommand::List(of) => {
            let partner = of.client.partner()?;
            let lines = catalog_rows(&partner, &of.country).await?;
            Ok(match output {
                Output::Json => serde_json::to_string(
                    &lines
                        .iter()
                        .map(|l| {
                            serde_json::json!({"catalogItemId": l[0], "kind": l[1],
                                "termDuration": l[2], "billingCycle": l[3], "name": l[4]})
                        })
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
                Output::Id => ids(lines.into_iter().map(|mut l| l.swap_remove(0))),
                Output::Table => rows(&["CATALOG ITEM", "KIND", "TERM", "BILLING", "NAME"], &lines),
            })
        }
        CatalogCommand::Products(args) => {
            let partner = args.of.client.partner()?;
            let products = partner
                .products()
                .by_target_view(&args.of.country, &args.target_view)
                .await?;
            Ok(match output {
                Output::Json => to_json(&products.items),
                Output::Id => ids(products.items.iter().map(|p| p.id.clone())),
                Output::Table => rows(
                    &["PRODUCT", "PUBLISHER", "TITLE"],
                    &products
                        .items
                        .iter()
                        .map(|p| vec![p.id.clone(), p.publisher_name.clone(), p.title.clone()])
                        .collect::<Vec<_>>(),
                ),
            })
        }
        CatalogCommand::Skus(args) => {
            let partner = args.of.client.partner()?;
            let skus = partner
                .products()
                .by_country(&args.of.country)
                .by_id(&args.product)
                .skus()
                .get()
                .await?;
            Ok(match output {
                Output::Json => to_json(&skus.items),
                Output::Id => ids(skus.items.iter().map(|s| s.id.clone())),
                Output::Table => rows(
                    &["SKU", "BILLING", "PREREQUISITES", "TITLE"],
                    &skus
                        .items
                        .iter()
                        .map(|s| {
                            vec![
                                s.id.clone(),
                                s.supported_billing_cycles.join(","),
                                if s.purchase_prerequisites.is_empty() {
                                    "-".to_owned()
                                } else {
                                    s.purchase_prerequisites.join(",")
                                },
                                s.title.clone(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            })
        }
        CatalogCommand::Availabilities(args) => {
            let partner = args.of.client.partner()?;
            let availabilities = partner
                .products()
                .by_country(&args.of.country)
                .by_id(&args.product)
                .skus()
                .by_id(&args.sku)
                .availabilities()
                .await?;
            Ok(match output {
                Output::Json => to_json(&availabilities.items),
                Output::Id => ids(availabilities
                    .items
                    .iter()
                    .map(|a| a.catalog_item_id.clone())),
                Output::Table => rows(
                    &["CATALOG ITEM", "TERM", "PURCHASABLE"],
                    &availabilities
                        .items
                        .iter()
                        .map(|a| {
                            vec![
                                a.catalog_item_id.clone(),
                                a.terms
                                    .iter()
                                    .map(|t| t.description.clone())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                a.is_purchasable.to_string(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            })
        }
        CatalogCommand::Inventory(args) => {
            let partner = args.of.client.partner()?;
            let request = inventory_request(
                &args.product,
                args.sku.as_deref(),
                args.customer,
                args.subscription,
                &args.region,
            );
            let items = partner
                .products()
                .by_country(&args.of.country)
                .check_inventory(&request)
                .await?;
            Ok(match output {
                Output::Json => to_json(&items.0),
                Output::Id => ids(items
                    .0
                    .iter()
                    .filter(|i| !i.is_restricted)
                    .map(|i| format!("{}:{}", i.product_id, i.sku_id))),
                Output::Table => rows(
                    &["PRODUCT", "SKU", "RESTRICTED", "WHY"],
                    &items
                        .0
                        .iter()
                        .map(|i| {
                            vec![
                                i.product_id.clone(),
                                i.sku_id.clone(),
                                i.is_restricted.to_string(),
                                i.restrictions
                                    .iter()
                                    .map(|r| r.description.clone())
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            })
        }
    }
}

/// An inventory check of a product (or one SKU) for a customer's subscription in a region.
pub(crate) fn inventory_request(
    product: &str,
    sku: Option<&str>,
    customer: CustomerId,
    subscription: SubscriptionId,
    region: &str,
) -> InventoryCheckRequest {
    InventoryCheckRequest {
        target_items: vec![InventoryTarget {
            product_id: product.to_owned(),
            sku_id: sku.map(str::to_owned),
        }],
        inventory_context: BTreeMap::from([
            ("customerId".to_owned(), customer.to_string()),
            ("azureSubscriptionId".to_owned(), subscription.to_string()),
            ("armRegionName".to_owned(), region.to_owned()),
        ]),
    }
}

/// An answer as JSON.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
