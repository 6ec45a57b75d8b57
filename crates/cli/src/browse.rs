//! `partner-center customers list` and `partner-center subscriptions list | show`: what the partner
//! has, through the SDK. A table by default, JSON (the service's resources) with `--output json`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use partner_center_client::CustomerQuery;
use partner_center_client::model::{Customer, CustomerId, Subscription, SubscriptionId};

use crate::client::{ClientArgs, Failure, Output, finish, ids, rows};

#[derive(Debug, Subcommand)]
pub(crate) enum CustomersCommand {
    /// List the partner's customers (every page), optionally those whose company name or domain
    /// starts with a prefix.
    List(CustomersListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CustomersListArgs {
    /// Only the customers whose company name starts with this, in any case.
    #[arg(long, value_name = "PREFIX", conflicts_with = "domain")]
    filter: Option<String>,

    /// Only the customers whose domain starts with this, in any case.
    #[arg(long, value_name = "PREFIX")]
    domain: Option<String>,

    /// Customers read per page (1 to 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    page_size: Option<u32>,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubscriptionsCommand {
    /// List a customer's subscriptions.
    List(SubscriptionsListArgs),
    /// Show one subscription.
    Show(SubscriptionShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SubscriptionsListArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// Only the subscriptions this order created.
    #[arg(long, value_name = "ORDER")]
    order: Option<String>,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SubscriptionShowArgs {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The subscription id.
    #[arg(long, env = "PC_SUBSCRIPTION", value_name = "GUID")]
    subscription: SubscriptionId,

    #[command(flatten)]
    client: ClientArgs,
}

/// `partner-center customers ...`.
pub(crate) async fn customers(command: CustomersCommand) -> ExitCode {
    let CustomersCommand::List(args) = command;
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner()?;
        let mut query = CustomerQuery::new();
        if let Some(size) = args.page_size {
            query = query.size(size);
        }
        if let Some(prefix) = &args.filter {
            query = query.company_name_starts_with(prefix);
        }
        if let Some(prefix) = &args.domain {
            query = query.domain_starts_with(prefix);
        }
        let customers = partner.customers().query(&query).collect().await?;
        Ok(customers_output(&customers, output))
    };
    finish(outcome.await.map_err(Failure::Sdk), output)
}

/// `partner-center subscriptions ...`.
pub(crate) async fn subscriptions(command: SubscriptionsCommand) -> ExitCode {
    match command {
        SubscriptionsCommand::List(args) => {
            let output = args.client.output;
            let outcome = async {
                let partner = args.client.partner()?;
                let collection = partner.customers().by_id(args.customer).subscriptions();
                let listed = match &args.order {
                    Some(order) => collection.by_order(order).await?,
                    None => collection.get().await?,
                };
                Ok(subscriptions_output(&listed.items, output))
            };
            finish(outcome.await.map_err(Failure::Sdk), output)
        }
        SubscriptionsCommand::Show(args) => {
            let output = args.client.output;
            let outcome = async {
                let partner = args.client.partner()?;
                let subscription = partner
                    .customers()
                    .by_id(args.customer)
                    .subscriptions()
                    .by_id(args.subscription)
                    .get()
                    .await?;
                Ok(match output {
                    Output::Json => serde_json::to_string(&subscription).unwrap_or_default(),
                    Output::Table | Output::Id => subscriptions_output(&[subscription], output),
                })
            };
            finish(outcome.await.map_err(Failure::Sdk), output)
        }
    }
}

fn customers_output(customers: &[Customer], output: Output) -> String {
    match output {
        Output::Json => serde_json::to_string(customers).unwrap_or_default(),
        Output::Id => ids(customers.iter().map(|c| c.id.to_string())),
        Output::Table => rows(
            &["CUSTOMER", "COMPANY", "DOMAIN"],
            &customers
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.company_profile.company_name.clone(),
                        c.company_profile.domain.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}

fn subscriptions_output(subscriptions: &[Subscription], output: Output) -> String {
    match output {
        Output::Json => serde_json::to_string(subscriptions).unwrap_or_default(),
        Output::Id => ids(subscriptions.iter().map(|s| s.id.to_string())),
        Output::Table => rows(
            &[
                "SUBSCRIPTION",
                "OFFER",
                "NAME",
                "QUANTITY",
                "STATUS",
                "ORDER",
            ],
            &subscriptions
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        s.offer_id.clone(),
                        s.friendly_name.clone(),
                        s.quantity.to_string(),
                        s.status.to_string(),
                        s.order_id.clone().unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}
