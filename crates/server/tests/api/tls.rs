//! HTTPS: the service on a certificate made here, through the SDK; and the accept loop's bounds,
//! limits and shutdown, the same over TLS as over plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use partner_center_client::{PartnerCenter, RetryPolicy};
use partner_center_server::{App, Config, Limits, Secret, Tls};
use partner_center_store::StoreOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::*;

const BOUND: Duration = Duration::from_secs(10);

/// A request for `/healthz` that asks the service to close the connection after it.
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// Sends `request` on `stream` and reads until the service closes it (within the bound): what
/// came back, up to a read error if one ended it.
async fn exchange(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    request: &[u8],
) -> String {
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the service closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A certificate authority, and a certificate for 127.0.0.1 it signed, with its key (PEM).
struct Certificate {
    authority: String,
    chain: String,
    key: String,
}

fn certificate() -> Certificate {
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
    Certificate {
        chain: format!("{}{}", leaf.pem(), authority.pem()),
        authority: authority.pem(),
        key: key.serialize_pem(),
    }
}

/// The service over HTTPS on 127.0.0.1:0, with the test fixture and JWKS.
struct HttpsApp {
    addr: SocketAddr,
    certificate: Certificate,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl HttpsApp {
    async fn spawn(limits: Limits) -> Self {
        let certificate = certificate();
        let dir = tempfile::tempdir().unwrap();
        let jwks_file = dir.path().join("jwks.json");
        std::fs::write(&jwks_file, serde_json::to_vec(&KEYS.jwks).unwrap()).unwrap();
        let store = partner_center_store::open("sqlite::memory:", StoreOptions::default())
            .await
            .unwrap();
        store.apply_fixture(&fixture()).await.unwrap();
        let mut config = Config {
            tls: Some(
                Tls::from_pem(certificate.chain.as_bytes(), certificate.key.as_bytes()).unwrap(),
            ),
            limits,
            ..Config::default()
        };
        config.auth.jwks_file = Some(jwks_file);
        config.auth.dev_signing_secret = Some(Secret::new(DEV_SECRET));
        let app = App::new(config, store).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async {
            let _ = stop.await;
        }));
        Self {
            addr,
            certificate,
            shutdown,
            server,
            _dir: dir,
        }
    }

    fn sdk(&self) -> partner_center_client::PartnerCenterBuilder {
        PartnerCenter::builder()
            .base_url(format!("https://{}", self.addr))
            .retry(RetryPolicy::with_delays([]))
            .token(token(SANDBOX_PARTNER))
    }

    /// A TLS connection to the service, trusting the test authority.
    async fn connect(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.certificate.authority.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// Shuts the service down and waits (bounded) until it has stopped.
    async fn stop(self) {
        self.shutdown.send(()).unwrap();
        tokio::time::timeout(BOUND, self.server)
            .await
            .expect("the service stops within the bound")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn the_sdk_calls_the_service_over_https_trusting_its_authority() {
    let app = HttpsApp::spawn(Limits::default()).await;
    let partner = app
        .sdk()
        .root_certificate_pem(app.certificate.authority.clone())
        .build()
        .unwrap();
    let subscription = partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(AZURE_PLAN.parse().unwrap());
    let status = subscription.registration_status().get().await.unwrap();
    assert_eq!(status.status.to_string(), "NotRegistered");
    let location = subscription.registration().register().await.unwrap();
    assert!(location.contains(AZURE_PLAN), "{location}");
    let status = subscription.registration_status().get().await.unwrap();
    assert_eq!(status.status.to_string(), "Registering");

    // Without the authority, the certificate is not trusted: the call fails before any request.
    let stranger = app.sdk().build().unwrap();
    let refused = stranger
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(AZURE_PLAN.parse().unwrap())
        .registration_status()
        .get()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    app.stop().await;
}

#[tokio::test]
async fn plain_http_sent_to_the_https_port_gets_no_http_answer() {
    let app = HttpsApp::spawn(Limits::default()).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let answer = exchange(&mut stream, HEALTHZ).await;
    assert!(!answer.starts_with("HTTP/"), "{answer}");
    // Then HTTPS still works.
    let answer = exchange(&mut app.connect().await, HEALTHZ).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_closed_after_the_header_timeout() {
    let app = HttpsApp::spawn(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    // The first bytes of a ClientHello record, and no more.
    stream.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(BOUND, stream.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without an answer: {read:?} {answer:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_over_tls_too() {
    let app = HttpsApp::spawn(Limits {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(5),
        ..Limits::default()
    })
    .await;
    // One connection, mid-request: the limit is reached.
    let mut held = app.connect().await;
    held.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    held.flush().await.unwrap();
    let mut refused = app.connect().await;
    let answer = exchange(&mut refused, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{answer}"
    );
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    drop(held);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_closes_handshakes_under_way_and_idle_tls_connections() {
    // A header timeout past the test's bound: only the shutdown can close these connections.
    let app = HttpsApp::spawn(Limits {
        header_read_timeout: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let mut idle = app.connect().await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut handshaking = TcpStream::connect(app.addr).await.unwrap();
    handshaking.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    // The service has taken the connection before it stops: a request on another connection
    // was accepted after it.
    let partner = app
        .sdk()
        .root_certificate_pem(app.certificate.authority.clone())
        .build()
        .unwrap();
    partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(AZURE_PLAN.parse().unwrap())
        .registration_status()
        .get()
        .await
        .unwrap();
    app.stop().await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(BOUND, handshaking.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}
