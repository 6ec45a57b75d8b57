//! `partner-center admin`: the admin API of a running service, from the command line. Prints the
//! service's JSON answers on standard output; an error answer goes to standard error (exit 1).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use partner_center_model::{
    CustomerId, SubscriptionId, SubscriptionKind, SubscriptionStatus, TenantId,
};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The service's base URL.
    #[arg(
        long,
        env = "PC_BASE_URL",
        default_value = "http://127.0.0.1:8080",
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
    let admin = Admin {
        http: reqwest::Client::new(),
        base: format!("{}/admin/v1", args.base_url.trim_end_matches('/')),
        token,
    };
    let answer = match args.command {
        AdminCommand::Partners(Partners::List) => admin.send("GET", "/partners", None).await?,
        AdminCommand::Partners(Partners::Put {
            tenant,
            name,
            sandbox,
        }) => {
            admin
                .send(
                    "PUT",
                    &format!("/partners/{tenant}"),
                    Some(json!({"name": name, "sandbox": sandbox})),
                )
                .await?
        }
        AdminCommand::Partners(Partners::Delete { tenant }) => {
            admin
                .send("DELETE", &format!("/partners/{tenant}"), None)
                .await?
        }
        AdminCommand::Customers(Customers::List(owner)) => {
            admin
                .send(
                    "GET",
                    &format!("/partners/{}/customers", owner.partner),
                    None,
                )
                .await?
        }
        AdminCommand::Customers(Customers::Put {
            owner,
            id,
            company_name,
        }) => {
            let path = format!("/partners/{}/customers/{id}", owner.partner);
            admin
                .send("PUT", &path, Some(json!({"companyName": company_name})))
                .await?
        }
        AdminCommand::Customers(Customers::Delete { owner, id }) => {
            admin
                .send(
                    "DELETE",
                    &format!("/partners/{}/customers/{id}", owner.partner),
                    None,
                )
                .await?
        }
        AdminCommand::Subscriptions(command) => subscriptions(&admin, command).await?,
        AdminCommand::Reset => admin.send("POST", "/reset", None).await?,
        AdminCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let fixture: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
            admin.send("POST", "/fixtures", Some(fixture)).await?
        }
        AdminCommand::Faults(Faults::List) => admin.send("GET", "/faults", None).await?,
        AdminCommand::Faults(Faults::Add { rule }) => {
            let rule: Value =
                serde_json::from_str(&rule).map_err(|e| format!("the rule is not JSON: {e}"))?;
            admin.send("POST", "/faults", Some(rule)).await?
        }
        AdminCommand::Faults(Faults::Delete { id }) => {
            admin.send("DELETE", &format!("/faults/{id}"), None).await?
        }
        AdminCommand::Faults(Faults::Clear) => admin.send("DELETE", "/faults", None).await?,
        AdminCommand::Requests {
            correlation_id,
            request_id,
            subscription,
            limit,
        } => {
            let mut query = Vec::new();
            if let Some(id) = correlation_id {
                query.push(("correlationId", id));
            }
            if let Some(id) = request_id {
                query.push(("requestId", id));
            }
            if let Some(id) = subscription {
                query.push(("subscription", id.to_string()));
            }
            if let Some(limit) = limit {
                query.push(("limit", limit.to_string()));
            }
            admin.get_with_query("/requests", &query).await?
        }
    };
    if let Some(answer) = answer {
        use std::io::Write as _;
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&answer)?
        )?;
    }
    Ok(())
}

async fn subscriptions(admin: &Admin, command: Subscriptions) -> Result<Option<Value>, Error> {
    let base = |of: &CustomerOf| {
        format!(
            "/partners/{}/customers/{}/subscriptions",
            of.partner, of.customer
        )
    };
    match command {
        Subscriptions::List(of) => admin.send("GET", &base(&of), None).await,
        Subscriptions::Show { of, id } => {
            admin
                .send("GET", &format!("{}/{id}", base(&of)), None)
                .await
        }
        Subscriptions::Put {
            of,
            id,
            kind,
            status,
            offer_name,
        } => {
            let body = json!({"kind": kind, "status": status, "offerName": offer_name});
            admin
                .send("PUT", &format!("{}/{id}", base(&of)), Some(body))
                .await
        }
        Subscriptions::Delete { of, id } => {
            admin
                .send("DELETE", &format!("{}/{id}", base(&of)), None)
                .await
        }
        Subscriptions::Advance { of, id } => {
            admin
                .send(
                    "POST",
                    &format!("{}/{id}/registration/advance", base(&of)),
                    None,
                )
                .await
        }
        Subscriptions::Fail { of, id } => {
            admin
                .send(
                    "POST",
                    &format!("{}/{id}/registration/fail", base(&of)),
                    None,
                )
                .await
        }
    }
}

struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>, Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(
            request
                .send()
                .await
                .map_err(|e| format!("cannot reach the service: {e}"))?,
        )
        .await
    }

    async fn get_with_query(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Value>, Error> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        answer(
            request
                .send()
                .await
                .map_err(|e| format!("cannot reach the service: {e}"))?,
        )
        .await
    }
}

/// The JSON of a successful answer (`None` when it has no body), or the error it describes.
async fn answer(response: reqwest::Response) -> Result<Option<Value>, Error> {
    let status = response.status();
    let text = response.text().await?;
    if status.is_success() {
        return Ok(if text.is_empty() {
            None
        } else {
            Some(serde_json::from_str(&text)?)
        });
    }
    let description = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["description"].as_str().map(str::to_owned))
        .unwrap_or(text);
    Err(format!("{status}: {description}").into())
}
