//! Bearer-token verification on arbitrary input (malformed JOSE headers, any `alg` and `kid`):
//! never panics, never accepts.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use partner_center_server::{AuthConfig, Authenticator, Secret};
use tokio::runtime::Runtime;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

static AUTHENTICATOR: LazyLock<Authenticator> = LazyLock::new(|| {
    let config = AuthConfig {
        dev_signing_secret: Some(Secret::new("fuzzing-secret")),
        ..AuthConfig::default()
    };
    RUNTIME
        .block_on(Authenticator::from_config(&config, Vec::new()))
        .unwrap()
});

fuzz_target!(|token: &str| {
    let verified = RUNTIME.block_on(AUTHENTICATOR.verify(token));
    assert!(verified.is_err(), "{token:?} was accepted");
});
