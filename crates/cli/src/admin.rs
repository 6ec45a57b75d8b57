//! `partner-center admin`: the admin API of a running service, from the command line, through the
//! SDK's [`AdminClient`]. Prints the service's answers as JSON on standard output; an error answer
//! goes to standard error (exit 1).

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use partner_center_client::AdminClient;
use partner_center_model::admin::{
    FaultRule, PutCustomer, PutPartner, PutSubscription, RequestsQuery,
};
use partner_center_model::{
    CustomerId, Fixture, SubscriptionId, SubscriptionKind, SubscriptionStatus, TenantId,
};
use serde::Serialize;
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The service's base URL.
    #[arg(
        long,
        env = "PC_BASE_URL",
        default_value = format!("http://{}", crate::cli::LISTEN),
        global = true
    )]
    base_url: String,

    /// The service's admin token (`serve --admin-token`).
    #[arg(long, env = "PC_ADMIN_TOKEN", hide_env_values = true, global = true)]
    admin_token: Option<String>,

    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// List, create or update, and delete partners.
    #[command(subcommand)]
    Partners(Partners),
    /// List, create or update, and delete a partner's customers.
    #[command(subcommand)]
    Customers(Customers),
    /// List, show, create or update, delete subscriptions, and settle their registrations.
    #[command(subcommand)]
    Subscriptions(Subscriptions),
    /// Delete every partner, customer, subscription, registration and idempotency record.
    Reset,
    /// Load a fixture (the --seed format).
    Load {
        /// The fixture file.
        file: PathBuf,
    },
    /// List, add and delete fault rules.
    #[command(subcommand)]
    Faults(Faults),
    /// The catalog the service offers.
    Catalog,
    /// List a customer's carts (expired ones too).
    Carts(CustomerOf),
    /// List, show and advance a customer's orders.
    #[command(subcommand)]
    Orders(Orders),
    /// Search the request journal, newest first.
    Requests {
        /// Requests with this MS-CorrelationId.
        #[arg(long)]
        correlation_id: Option<String>,
        /// Requests with this MS-RequestId.
        #[arg(long)]
        request_id: Option<String>,
        /// Requests on this subscription.
        #[arg(long)]
        subscription: Option<SubscriptionId>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
enum Partners {
    /// List every partner.
    List,
    /// Create or update a partner.
    Put {
        tenant: TenantId,
        #[arg(long)]
        name: String,
        /// The account is an integration sandbox.
        #[arg(long)]
        sandbox: bool,
    },
    /// Delete a partner and everything that is its.
    Delete { tenant: TenantId },
}

#[derive(Debug, Args)]
struct Owner {
    /// The partner's tenant id.
    #[arg(long)]
    partner: TenantId,
}

#[derive(Debug, Args)]
struct CustomerOf {
    /// The partner's tenant id.
    #[arg(long)]
    partner: TenantId,
    /// The customer's tenant id.
    #[arg(long)]
    customer: CustomerId,
}

#[derive(Debug, Subcommand)]
enum Customers {
    /// List a partner's customers.
    List(Owner),
    /// Create or update a customer.
    Put {
        #[command(flatten)]
        owner: Owner,
        id: CustomerId,
        #[arg(long, default_value = "")]
        company_name: String,
        /// Its domain (else derived from the company name).
        #[arg(long)]
        domain: Option<String>,
    },
    /// Delete a customer and its subscriptions.
    Delete {
        #[command(flatten)]
        owner: Owner,
        id: CustomerId,
    },
}

#[derive(Debug, Subcommand)]
enum Subscriptions {
    /// List a customer's subscriptions.
    List(CustomerOf),
    /// Show a subscription with its registrations and the journal's requests on it.
    Show {
        #[command(flatten)]
        of: CustomerOf,
        id: SubscriptionId,
    },
    /// Create or update a subscription.
    Put {
        #[command(flatten)]
        of: CustomerOf,
        id: SubscriptionId,
        #[arg(long)]
        kind: SubscriptionKind,
        #[arg(long)]
        status: SubscriptionStatus,
        #[arg(long, default_value = "")]
        offer_name: String,
        /// The offer or catalog item (else the kind's).
        #[arg(long)]
        offer_id: Option<String>,
        /// The name the partner gave it (else the offer's).
        #[arg(long)]
        friendly_name: Option<String>,
        /// How many (at least 1).
        #[arg(long)]
        quantity: Option<std::num::NonZeroU32>,
    },
    /// Delete a subscription.
    Delete {
        #[command(flatten)]
        of: CustomerOf,
        id: SubscriptionId,
    },
    /// Complete the subscription's registration in progress now.
    Advance {
        #[command(flatten)]
        of: CustomerOf,
        id: SubscriptionId,
    },
    /// End the subscription's registration in progress in failure.
    Fail {
        #[command(flatten)]
        of: CustomerOf,
        id: SubscriptionId,
    },
}

#[derive(Debug, Subcommand)]
enum Orders {
    /// List a customer's orders, newest first.
    List(CustomerOf),
    /// Show an order with the subscriptions it made.
    Show {
        #[command(flatten)]
        of: CustomerOf,
        id: String,
    },
    /// Provision a pending reservation order now (one `--order-provisioning-delay manual` leaves
    /// pending).
    Advance {
        #[command(flatten)]
        of: CustomerOf,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum Faults {
    /// List the fault rules in force.
    List,
    /// Add a fault rule, given as JSON, e.g. '{"route":"registrations","count":1,"effect":{"type":"status","status":500}}'.
    Add { rule: String },
    /// Delete a fault rule by id.
    Delete { id: u64 },
    /// Delete every fault rule.
    Clear,
}

pub(crate) async fn run(args: AdminArgs) -> Result<(), Error> {
    let token = args
        .admin_token
        .ok_or("the admin token is required: --admin-token or PC_ADMIN_TOKEN")?;
    let admin = AdminClient::new(args.base_url, token)?;
    let answer = command(&admin, args.command)
        .await
        .map_err(|Failure(message)| message)?;
    if let Some(answer) = answer {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&answer)?
        )?;
    }
    Ok(())
}

/// Makes the command's call; its answer, to print (`None` when the service answered nothing).
async fn command(admin: &AdminClient, command: AdminCommand) -> Result<Option<Value>, Failure> {
    match command {
        AdminCommand::Partners(Partners::List) => json(admin.partners().await?),
        AdminCommand::Partners(Partners::Put {
            tenant,
            name,
            sandbox,
        }) => {
            let put = PutPartner { name, sandbox };
            json(admin.put_partner(tenant, &put).await?.value)
        }
        AdminCommand::Partners(Partners::Delete { tenant }) => {
            admin.delete_partner(tenant).await?;
            Ok(None)
        }
        AdminCommand::Customers(Customers::List(owner)) => {
            json(admin.customers(owner.partner).await?)
        }
        AdminCommand::Customers(Customers::Put {
            owner,
            id,
            company_name,
            domain,
        }) => {
            let put = PutCustomer {
                company_name,
                domain,
            };
            json(admin.put_customer(owner.partner, id, &put).await?.value)
        }
        AdminCommand::Customers(Customers::Delete { owner, id }) => {
            admin.delete_customer(owner.partner, id).await?;
            Ok(None)
        }
        AdminCommand::Subscriptions(command) => subscriptions(admin, command).await,
        AdminCommand::Reset => {
            admin.reset().await?;
            Ok(None)
        }
        AdminCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let fixture = Fixture::from_json(&text)
                .map_err(|e| format!("{} is not a valid fixture: {e}", file.display()))?;
            json(admin.load_fixture(&fixture).await?)
        }
        AdminCommand::Catalog => json(admin.catalog().await?),
        AdminCommand::Carts(of) => json(admin.carts(of.partner, of.customer).await?),
        AdminCommand::Orders(Orders::List(of)) => {
            json(admin.orders(of.partner, of.customer).await?)
        }
        AdminCommand::Orders(Orders::Show { of, id }) => {
            json(admin.order(of.partner, of.customer, &id).await?)
        }
        AdminCommand::Orders(Orders::Advance { of, id }) => {
            json(admin.advance_order(of.partner, of.customer, &id).await?)
        }
        AdminCommand::Faults(Faults::List) => json(admin.faults().await?),
        AdminCommand::Faults(Faults::Add { rule }) => {
            let rule: FaultRule = serde_json::from_str(&rule)
                .map_err(|e| format!("the rule is not a valid fault rule: {e}"))?;
            json(admin.add_fault(&rule).await?)
        }
        AdminCommand::Faults(Faults::Delete { id }) => {
            admin.delete_fault(id).await?;
            Ok(None)
        }
        AdminCommand::Faults(Faults::Clear) => {
            admin.clear_faults().await?;
            Ok(None)
        }
        AdminCommand::Requests {
            correlation_id,
            request_id,
            subscription,
            limit,
        } => {
            let query = RequestsQuery {
                correlation_id,
                request_id,
                subscription: subscription.map(|id| id.to_string()),
                limit,
            };
            json(admin.requests(&query).await?)
        }
    }
}

async fn subscriptions(
    admin: &AdminClient,
    command: Subscriptions,
) -> Result<Option<Value>, Failure> {
    match command {
        Subscriptions::List(of) => json(admin.subscriptions(of.partner, of.customer).await?),
        Subscriptions::Show { of, id } => {
            json(admin.subscription(of.partner, of.customer, id).await?)
        }
        Subscriptions::Put {
            of,
            id,
            kind,
            status,
            offer_name,
            offer_id,
            friendly_name,
            quantity,
        } => {
            let put = PutSubscription {
                kind,
                status,
                offer_name,
                offer_id,
                friendly_name,
                quantity,
            };
            json(
                admin
                    .put_subscription(of.partner, of.customer, id, &put)
                    .await?
                    .value,
            )
        }
        Subscriptions::Delete { of, id } => {
            admin
                .delete_subscription(of.partner, of.customer, id)
                .await?;
            Ok(None)
        }
        Subscriptions::Advance { of, id } => json(
            admin
                .advance_registration(of.partner, of.customer, id)
                .await?,
        ),
        Subscriptions::Fail { of, id } => {
            json(admin.fail_registration(of.partner, of.customer, id).await?)
        }
    }
}

/// An answer as it is printed: through a [`Value`], whose keys are in alphabetical order.
fn json(answer: impl Serialize) -> Result<Option<Value>, Failure> {
    Ok(Some(serde_json::to_value(answer)?))
}

/// Why a command failed, as it is reported on standard error: the service's status and
/// description (`403 Forbidden: Access denied...`), or what else went wrong.
struct Failure(String);

impl From<partner_center_client::Error> for Failure {
    fn from(err: partner_center_client::Error) -> Self {
        use partner_center_client::Error as Sdk;
        Self(match err {
            Sdk::Api(api) => {
                let status = reqwest::StatusCode::from_u16(api.status)
                    .map_or_else(|_| api.status.to_string(), |s| s.to_string());
                format!("{status}: {}", api.description())
            }
            Sdk::Network { message, .. } => format!("cannot reach the service: {message}"),
            other => other.to_string(),
        })
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(err: serde_json::Error) -> Self {
        Self(err.to_string())
    }
}
