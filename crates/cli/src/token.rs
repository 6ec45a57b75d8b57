//! `partner-center token`: mints a token for tests and prints it.

use std::io::Write as _;

use partner_center_server::idp::UserToken;
use partner_center_server::{IdentityProvider, Secret, dev};

use crate::cli::TokenArgs;

type Error = Box<dyn std::error::Error + Send + Sync>;

pub(crate) async fn run(args: TokenArgs) -> Result<(), Error> {
    let client_id = args.client_id.unwrap_or(dev::DEV_CLIENT);
    let user = UserToken {
        upn: args.user,
        mfa: !args.no_mfa,
        scope: args.scope,
        client_id,
        lifetime: args.lifetime,
    };
    let token = match args.dev_signing_secret {
        Some(secret) => {
            let secret = Secret::new(secret);
            if args.app_only {
                dev::dev_token(&secret, args.tenant, args.lifetime)?
            } else {
                dev::dev_user_token(&secret, args.tenant, &user)?
            }
        }
        None => {
            // Beside a running service: reads the signing key, claims nothing.
            let options = partner_center_store::StoreOptions {
                shared: true,
                ..args.database.options()
            };
            let store = partner_center_store::open(&args.database.url, options)
                .await
                .map_err(|e| format!("cannot open the database: {e}"))?;
            let idp = IdentityProvider::load(store.as_ref(), &args.public_url).await?;
            if args.app_only {
                idp.app_token(args.tenant, client_id, args.lifetime)?
            } else {
                idp.user_token(args.tenant, &user)?
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{token}")?;
    Ok(())
}
