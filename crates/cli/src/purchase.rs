//! `partner-center reservation buy`, `saas buy`, `orders list | show | cancel` and `catalog list`:
//! the purchase flows from the command line, through the SDK. A table by default, JSON (the
//! service's resources) with `--output json`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use partner_center_client::model::CustomerId;
use partner_center_client::model::purchase::{
    Cart, CartLineItemRequest, CartRequest, Order, OrderLineItemProvisioningStatus,
};
use partner_center_client::model::{Collection, SubscriptionId};
use partner_center_client::{Error, PartnerCenter, WaitOptions};
use serde_json::json;

use crate::client::{ClientArgs, Failure, Output, finish, ids, rows};

#[derive(Debug, Subcommand)]
pub(crate) enum ReservationCommand {
    /// Buy an Azure reservation on a registered Azure subscription: a cart, its checkout, and
    /// (with --wait) the order's progress until it is fulfilled.
    Buy(ReservationBuyArgs),
}

/// A reservation's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scope {
    /// Shared by the customer's subscriptions.
    Shared,
    /// Applied to the one subscription.
    Single,
}

/// How `--wait` waits.
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Wait until the order is no longer pending, with a spinner on a terminal, and print it.
    #[arg(long)]
    wait: bool,

    /// How long --wait waits.
    #[arg(long, env = "PC_WAIT_TIMEOUT", default_value = "2m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    wait_timeout: Duration,

    /// How often --wait reads the order.
    #[arg(long, env = "PC_POLL_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    poll_interval: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct ReservationBuyArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The registered Azure subscription the reservation is bought on.
    #[arg(long, env = "PC_SUBSCRIPTION", value_name = "GUID")]
    subscription: SubscriptionId,

    /// The reservation's catalog item (`PRODUCT:SKU:AVAILABILITY`).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "sku",
        conflicts_with = "sku"
    )]
    catalog_item: Option<String>,

    /// The reservation's SKU (`PRODUCT:SKU`): its inventory is checked in its region and its
    /// availability found, as Partner Center's documented flow does.
    #[arg(long, value_name = "PRODUCT:SKU")]
    sku: Option<String>,

    /// The country the SKU is looked up in (with --sku).
    #[arg(long, env = "PC_COUNTRY", default_value = "US")]
    country: String,

    /// How many instances.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    quantity: i64,

    /// The reservation's scope.
    #[arg(long, value_enum, default_value_t = Scope::Shared)]
    scope: Scope,

    #[command(flatten)]
    wait: WaitArgs,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SaasCommand {
    /// Buy a SaaS plan: a cart and its checkout leave a `pending` subscription to activate
    /// (`partner-center activate`, or --activate here in an integration sandbox).
    Buy(SaasBuyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SaasBuyArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The SaaS plan's catalog item (`PRODUCT:SKU:AVAILABILITY`).
    #[arg(long, value_name = "ID")]
    catalog_item: String,

    /// How many seats.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    quantity: i64,

    /// Activate the new subscription right after the checkout (integration sandbox), so that the
    /// order completes.
    #[arg(long)]
    activate: bool,

    #[command(flatten)]
    wait: WaitArgs,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrdersCommand {
    /// List a customer's orders, newest first.
    List(OrdersListArgs),
    /// Show an order and each line's provisioning status.
    Show(OrderArgs),
    /// Cancel an order (integration sandbox): its subscriptions are deleted.
    Cancel(OrderArgs),
}

#[derive(Debug, Args)]
pub(crate) struct OrdersListArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct OrderArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The order id.
    #[arg(long, value_name = "ORDER")]
    order: String,

    #[command(flatten)]
    client: ClientArgs,
}

/// Buys `lines` for `customer`: a cart, then its checkout. A line that cannot be bought stops it
/// before the checkout, with the cart's errors.
async fn buy(
    partner: &PartnerCenter,
    customer: CustomerId,
    line: CartLineItemRequest,
) -> Result<Order, Failure> {
    let carts = partner.customers().by_id(customer).carts();
    let cart = carts
        .create(&CartRequest {
            line_items: vec![line],
        })
        .await
        .map_err(Failure::Sdk)?;
    if cart.line_errors().next().is_some() {
        return Err(Failure::NotBought(format!(
            "the cart has errors\n{}",
            cart_errors(&cart)
        )));
    }
    let result = carts
        .by_id(&cart.id)
        .checkout()
        .await
        .map_err(Failure::Sdk)?;
    result
        .orders
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Sdk(Error::Decode("the checkout placed no order".into())))
}

/// What is wrong with a cart's lines, one per line.
fn cart_errors(cart: &Cart) -> String {
    cart.line_errors()
        .map(|(line, error)| {
            format!(
                "line {} ({}): {} {}",
                line.id, line.catalog_item_id, error.error_code, error.error_description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for `order` with a spinner (on a terminal), when asked.
async fn waited(
    partner: &PartnerCenter,
    customer: CustomerId,
    order: Order,
    wait: &WaitArgs,
) -> Result<Order, Failure> {
    if !wait.wait {
        return Ok(order);
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(format!("order {} is pending", order.id));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let done = partner
        .customers()
        .by_id(customer)
        .orders()
        .by_id(&order.id)
        .wait_for_order(WaitOptions {
            interval: wait.poll_interval,
            timeout: wait.wait_timeout,
        })
        .await;
    spinner.finish_and_clear();
    done.map_err(Failure::Sdk)
}

/// `partner-center reservation ...`.
pub(crate) async fn reservation(command: ReservationCommand) -> ExitCode {
    let ReservationCommand::Buy(args) = command;
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner().map_err(Failure::Sdk)?;
        let scope = match args.scope {
            Scope::Shared => "shared",
            Scope::Single => "single",
        };
        let catalog_item_id = match (&args.catalog_item, &args.sku) {
            (Some(id), _) => id.clone(),
            (None, Some(sku)) => {
                find_availability(
                    &partner,
                    &args.country,
                    sku,
                    args.customer,
                    args.subscription,
                )
                .await?
            }
            (None, None) => {
                return Err(Failure::Sdk(Error::Config(
                    "give --catalog-item or --sku".into(),
                )));
            }
        };
        let line = CartLineItemRequest {
            id: 0,
            catalog_item_id,
            quantity: args.quantity,
            provisioning_context: BTreeMap::from([
                ("subscriptionId".to_owned(), args.subscription.to_string()),
                ("scope".to_owned(), scope.to_owned()),
            ]),
            ..CartLineItemRequest::default()
        };
        let order = buy(&partner, args.customer, line).await?;
        let order = waited(&partner, args.customer, order, &args.wait).await?;
        Ok(orders_output(&[order], output))
    };
    finish(outcome.await, output)
}

/// The catalog item of SKU `sku` (`PRODUCT:SKU`), found as Partner Center documents it: the SKU,
/// its inventory checked in its own region when it asks for that check, then its first
/// purchasable availability.
async fn find_availability(
    partner: &PartnerCenter,
    country: &str,
    sku: &str,
    customer: CustomerId,
    subscription: SubscriptionId,
) -> Result<String, Failure> {
    let Some((product, sku)) = sku.split_once(':') else {
        return Err(Failure::Sdk(Error::Config(format!(
            "--sku `{sku}` is not PRODUCT:SKU"
        ))));
    };
    let products = partner.products().by_country(country);
    let operations = products.by_id(product).skus().by_id(sku);
    let found = operations.get().await.map_err(Failure::Sdk)?;
    if found
        .purchase_prerequisites
        .iter()
        .any(|p| p.eq_ignore_ascii_case("InventoryCheck"))
    {
        let region = found
            .dynamic_attributes
            .get("armRegionName")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let request =
            crate::catalog::inventory_request(product, Some(sku), customer, subscription, region);
        let checked = products
            .check_inventory(&request)
            .await
            .map_err(Failure::Sdk)?;
        if let Some(restricted) = checked.0.iter().find(|i| i.is_restricted) {
            let why: Vec<&str> = restricted
                .restrictions
                .iter()
                .map(|r| r.description.as_str())
                .collect();
            return Err(Failure::NotBought(format!(
                "the inventory check says {product}:{sku} cannot be bought: {}",
                why.join(" ")
            )));
        }
    }
    let availabilities = operations.availabilities().await.map_err(Failure::Sdk)?;
    availabilities
        .items
        .into_iter()
        .find(|a| a.is_purchasable)
        .map(|a| a.catalog_item_id)
        .ok_or_else(|| {
            Failure::Sdk(Error::Decode(format!(
                "{product}:{sku} has no purchasable availability"
            )))
        })
}

/// `partner-center saas ...`.
pub(crate) async fn saas(command: SaasCommand) -> ExitCode {
    let SaasCommand::Buy(args) = command;
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner().map_err(Failure::Sdk)?;
        let line = CartLineItemRequest {
            id: 0,
            catalog_item_id: args.catalog_item.clone(),
            quantity: args.quantity,
            ..CartLineItemRequest::default()
        };
        let order = buy(&partner, args.customer, line).await?;
        let subscriptions: Vec<SubscriptionId> = order
            .line_items
            .iter()
            .filter_map(|line| line.subscription_id)
            .collect();
        if args.activate {
            for subscription in &subscriptions {
                partner
                    .customers()
                    .by_id(args.customer)
                    .subscriptions()
                    .by_id(*subscription)
                    .activate()
                    .await
                    .map_err(Failure::Sdk)?;
            }
        } else if args.wait.wait {
            for subscription in &subscriptions {
                eprintln!(
                    "waiting for the activation of {subscription}: partner-center activate --customer {} --subscription {subscription}",
                    args.customer
                );
            }
        }
        let order = if args.activate && !args.wait.wait {
            partner
                .customers()
                .by_id(args.customer)
                .orders()
                .by_id(&order.id)
                .get()
                .await
                .map_err(Failure::Sdk)?
        } else {
            waited(&partner, args.customer, order, &args.wait).await?
        };
        Ok(orders_output(&[order], output))
    };
    finish(outcome.await, output)
}

/// `partner-center orders ...`.
pub(crate) async fn orders(command: OrdersCommand) -> ExitCode {
    match command {
        OrdersCommand::List(args) => {
            let output = args.client.output;
            let outcome = async {
                let partner = args.client.partner()?;
                let orders = partner
                    .customers()
                    .by_id(args.customer)
                    .orders()
                    .get()
                    .await?;
                Ok(orders_output(&orders.items, output))
            };
            finish(outcome.await.map_err(Failure::Sdk), output)
        }
        OrdersCommand::Show(args) => {
            let output = args.client.output;
            let outcome = async {
                let partner = args.client.partner()?;
                let operations = partner
                    .customers()
                    .by_id(args.customer)
                    .orders()
                    .by_id(&args.order);
                let order = operations.get().await?;
                let status = operations.provisioning_status().await?;
                Ok(order_detail_output(&order, &status, output))
            };
            finish(outcome.await.map_err(Failure::Sdk), output)
        }
        OrdersCommand::Cancel(args) => {
            let output = args.client.output;
            let outcome = async {
                let partner = args.client.partner()?;
                let order = partner
                    .customers()
                    .by_id(args.customer)
                    .orders()
                    .by_id(&args.order)
                    .cancel()
                    .await?;
                Ok(orders_output(&[order], output))
            };
            finish(outcome.await.map_err(Failure::Sdk), output)
        }
    }
}

fn orders_output(orders: &[Order], output: Output) -> String {
    match output {
        Output::Json if orders.len() == 1 => serde_json::to_string(&orders[0]).unwrap_or_default(),
        Output::Json => serde_json::to_string(orders).unwrap_or_default(),
        Output::Id => ids(orders.iter().map(|order| order.id.clone())),
        Output::Table => rows(
            &[
                "ORDER",
                "STATUS",
                "CREATED",
                "LINE",
                "OFFER",
                "QTY",
                "SUBSCRIPTION",
            ],
            &orders
                .iter()
                .flat_map(|order| {
                    order.line_items.iter().map(|line| {
                        vec![
                            order.id.clone(),
                            order.status.clone(),
                            order.creation_date.clone(),
                            line.line_item_number.to_string(),
                            line.offer_id.clone(),
                            line.quantity.to_string(),
                            line.subscription_id
                                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                        ]
                    })
                })
                .collect::<Vec<_>>(),
        ),
    }
}

fn order_detail_output(
    order: &Order,
    status: &Collection<OrderLineItemProvisioningStatus>,
    output: Output,
) -> String {
    match output {
        Output::Json => json!({"order": order, "provisioningStatus": status.items}).to_string(),
        Output::Id => order.id.clone(),
        Output::Table => rows(
            &[
                "ORDER",
                "STATUS",
                "LINE",
                "OFFER",
                "QTY",
                "PROVISIONING",
                "SUBSCRIPTION",
            ],
            &order
                .line_items
                .iter()
                .map(|line| {
                    let provisioning = status
                        .items
                        .iter()
                        .find(|s| s.line_item_number == line.line_item_number)
                        .map_or("-", |s| s.status.as_str());
                    vec![
                        order.id.clone(),
                        order.status.clone(),
                        line.line_item_number.to_string(),
                        line.offer_id.clone(),
                        line.quantity.to_string(),
                        provisioning.to_owned(),
                        line.subscription_id
                            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}
