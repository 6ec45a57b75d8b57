//! Registers the demo Azure plan, waits for it, and activates the demo SaaS subscription, against
//! a local sandbox:
//!
//! ```sh
//! cargo run --release -- serve --demo          # prints `export PC_TOKEN=...`
//! export PC_TOKEN=...                          # in another shell
//! cargo run -p partner-center-client --example sandbox
//! ```
//!
//! `PC_BASE_URL` (default `http://127.0.0.1:8080`) points it elsewhere. Against the real Partner
//! Center, use `ClientCredentials` and your own customer and subscription ids.

use partner_center_client::model::{CustomerId, SubscriptionId};
use partner_center_client::{Error, PartnerCenter, WaitOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = std::env::var("PC_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token =
        std::env::var("PC_TOKEN").map_err(|_| "set PC_TOKEN to the token `serve --demo` prints")?;
    let partner = PartnerCenter::builder()
        .base_url(base_url)
        .token(token)
        .build()?;

    // The demo fixture's customer, Azure plan and SaaS subscription.
    let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse()?;
    let azure_plan: SubscriptionId = "d3a7f4c2-0000-4000-8000-000000000003".parse()?;
    let saas: SubscriptionId = "e4b8a5d3-0000-4000-8000-000000000004".parse()?;
    let subscriptions = partner.customers().by_id(customer).subscriptions();

    let plan = subscriptions.by_id(azure_plan);
    println!(
        "{azure_plan}: {}",
        plan.registration_status().get().await?.status
    );
    let done = plan
        .registration()
        .register_and_wait(WaitOptions::default())
        .await?;
    println!("{azure_plan}: {}", done.status);

    match subscriptions.by_id(saas).activate().await {
        Ok(result) => println!("{saas}: activation {}", result.status),
        // The second run: the service says why, with the ids support would ask for.
        Err(Error::Api(api)) if api.code() == Some(800_041) => {
            println!(
                "{saas}: already active ({}, MS-RequestId {})",
                api.description(),
                api.request_id
            );
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
