//! `serve --tls-cert/--tls-key` (HTTPS on a certificate made here; what the accept loop does over
//! TLS is the server's tests' part, `crates/server/tests/api/tls.rs`) and `serve --config FILE`
//! (TOML keyed by the flags' long names; flags beat `PC_*` variables beat the file beat defaults).

use partner_center_client::PartnerCenter;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::*;

/// Writes a certificate authority, a certificate for 127.0.0.1 it signed (the chain, PEM) and
/// its key (PEM) into `dir`; their paths, and the authority's PEM.
struct Certificate {
    authority: String,
    chain: String,
    key: String,
}

fn certificate(dir: &Path) -> Certificate {
    let mut authority = CertificateParams::new(Vec::<String>::new()).unwrap();
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(DnType::CommonName, "partner-center test authority");
    let authority = CertifiedIssuer::self_signed(authority, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf.signed_by(&key, &authority).unwrap();
    let (chain, key_file) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&chain, format!("{}{}", leaf.pem(), authority.pem())).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    Certificate {
        authority: authority.pem(),
        chain: chain.display().to_string(),
        key: key_file.display().to_string(),
    }
}

/// Writes `toml` to `dir/name`; its path.
fn config_file(dir: &Path, name: &str, toml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

/// A TOML string (paths on any platform).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[tokio::test]
async fn serve_speaks_https_from_a_config_file_named_by_pc_config() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    let seed = seed_file(dir.path());
    let config = config_file(
        dir.path(),
        "serve.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite::memory:\"\nseed = {}\n\
             dev-signing-secret = \"tls-secret\"\nidentity-provider = true\n\
             tls-cert = {}\ntls-key = {}\n",
            quoted(&seed),
            quoted(&certificate.chain),
            quoted(&certificate.key),
        ),
    );
    let mut serve = command(dir.path(), &["serve"]);
    serve.env("PC_CONFIG", &config);
    let running = start(serve, "Listening on").await;
    let base = running.base.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");

    // The SDK, trusting the authority, activates the seeded subscription over HTTPS.
    let partner = PartnerCenter::builder()
        .base_url(&base)
        .token(seed_partner_token("tls-secret"))
        .root_certificate_pem(certificate.authority.clone())
        .build()
        .unwrap();
    let activated = partner
        .customers()
        .by_id(SEED_CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(SEED_SAAS.parse().unwrap())
        .activate()
        .await
        .unwrap();
    assert_eq!(activated.status.to_string(), "Success");

    // The identity provider's issuer is an https:// URL too.
    let http = reqwest::Client::builder()
        .tls_certs_merge(
            reqwest::Certificate::from_pem_bundle(certificate.authority.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let discovery: Value = http
        .get(format!(
            "{base}/{SEED_PARTNER}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], format!("{base}/{SEED_PARTNER}/v2.0"));

    assert!(running.stop_with("TERM").await.success());
}

#[tokio::test]
async fn tls_flags_come_in_pairs_and_unusable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = certificate(dir.path());
    for (alone, missing) in [
        (["--tls-cert", &certificate.chain], "--tls-key"),
        (["--tls-key", &certificate.key], "--tls-cert"),
    ] {
        let (status, stderr) =
            run_to_exit(command(dir.path(), &[&["serve"], &alone[..]].concat())).await;
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(missing), "{stderr}");
    }

    std::fs::write(dir.path().join("bad-key.pem"), "not a key").unwrap();
    for (cert, key, named) in [
        ("missing.pem", certificate.key.as_str(), "missing.pem"),
        (certificate.chain.as_str(), "bad-key.pem", "bad-key.pem"),
        (
            certificate.key.as_str(),
            certificate.key.as_str(),
            "key.pem",
        ),
    ] {
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--dev-signing-secret",
            "x",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ];
        let (status, stderr) = run_to_exit(command(dir.path(), &args)).await;
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
}

/// The `MS-ServerId` of a service started by `serve`, then stopped.
async fn server_id_of(serve: Command) -> String {
    let running = start(serve, "Listening on").await;
    let response = reqwest::get(format!("{}/healthz", running.base))
        .await
        .unwrap();
    let id = response.headers()["ms-serverid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(running.stop_with("TERM").await.success());
    id
}

#[tokio::test]
async fn a_flag_beats_its_environment_variable_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    // The file alone makes the service startable: it gives the address, the database and a key.
    let startable = "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite::memory:\"\n\
                     dev-signing-secret = \"x\"\n";
    let plain = config_file(dir.path(), "plain.toml", startable);
    let named = config_file(
        dir.path(),
        "named.toml",
        &format!("{startable}server-id = \"100000001\"\n"),
    );

    let default = command(dir.path(), &["serve", "--config", &plain]);
    assert_eq!(
        server_id_of(default).await,
        partner_center_server::config::default_server_id()
    );

    let file = command(dir.path(), &["serve", "--config", &named]);
    assert_eq!(server_id_of(file).await, "100000001");

    let mut environment = command(dir.path(), &["serve", "--config", &named]);
    environment.env("PC_SERVER_ID", "100000002");
    assert_eq!(server_id_of(environment).await, "100000002");

    let mut flag = command(
        dir.path(),
        &["serve", "--config", &named, "--server-id", "100000003"],
    );
    flag.env("PC_SERVER_ID", "100000002");
    assert_eq!(server_id_of(flag).await, "100000003");
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_or_a_bad_value_stops_the_start_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, named) in [
        (
            "listen = \"127.0.0.1:0\"\nregistration-dealy = \"1s\"\n",
            "unknown key `registration-dealy`",
        ),
        (
            "registration-delay = \"soon\"\n",
            "bad value for `registration-delay`",
        ),
        (
            "max-connections = \"many\"\n",
            "bad value for `max-connections`",
        ),
        ("demo = \"yes\"\n", "bad value for `demo`"),
    ] {
        let file = config_file(dir.path(), "wrong.toml", toml);
        let (status, stderr) =
            run_to_exit(command(dir.path(), &["serve", "--config", &file])).await;
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(named) && stderr.contains("wrong.toml"),
            "{toml}: {stderr}"
        );
    }
    let (status, stderr) =
        run_to_exit(command(dir.path(), &["serve", "--config", "absent.toml"])).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("absent.toml"), "{stderr}");
}
