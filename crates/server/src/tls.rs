//! HTTPS: the certificate chain and private key the service presents, as a rustls server
//! configuration on the aws-lc-rs provider.
//!
//! The accept loop (`crate::connections`) does the handshake on each connection's own task,
//! within the header read timeout, so a client that never finishes it holds its connection no
//! longer than one that never sends its headers.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The service's TLS configuration; cheap to clone.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
}

/// Why the certificate or the key cannot be used; each names the file (or the PEM) at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {name}: {source}")]
    Read {
        /// The file.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate chain holds no certificate, or one that is not valid PEM.
    #[error("{name} is not a PEM certificate chain: {reason}")]
    Certificates {
        /// The file.
        name: String,
        /// Why.
        reason: String,
    },
    /// The private key is missing or not valid PEM (PKCS#8, PKCS#1 or SEC1).
    #[error("{name} is not a PEM private key: {reason}")]
    Key {
        /// The file.
        name: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair: an unsupported key, or a key that is not the certificate's.
    #[error("{certificates} and {key} do not make a usable certificate: {source}")]
    Unusable {
        /// The certificate chain's file.
        certificates: String,
        /// The key's file.
        key: String,
        /// What rustls said.
        source: rustls::Error,
    },
}

impl Tls {
    /// A TLS configuration of the caller's own making. The service speaks HTTP/1.1 only: give
    /// its `alpn_protocols` `http/1.1` or nothing.
    #[must_use]
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    /// The certificate chain (PEM, the service's certificate first) and its private key (PEM)
    /// read from these files.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or parsed, or the key is not the certificate's; the error names
    /// the file.
    pub fn from_pem_files(certificates: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                name: path.display().to_string(),
                source,
            })
        };
        Self::build(
            &read(certificates)?,
            &certificates.display().to_string(),
            &read(key)?,
            &key.display().to_string(),
        )
    }

    /// The certificate chain (PEM, the service's certificate first) and its private key (PEM).
    ///
    /// # Errors
    ///
    /// When either cannot be parsed, or the key is not the certificate's.
    pub fn from_pem(certificates: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        Self::build(
            certificates,
            "the certificate chain",
            key,
            "the private key",
        )
    }

    fn build(
        certificates: &[u8],
        certificates_name: &str,
        key: &[u8],
        key_name: &str,
    ) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(certificates)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificates {
                name: certificates_name.to_owned(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Certificates {
                name: certificates_name.to_owned(),
                reason: "no CERTIFICATE block".to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Key {
            name: key_name.to_owned(),
            reason: e.to_string(),
        })?;
        let unusable = |source| TlsError::Unusable {
            certificates: certificates_name.to_owned(),
            key: key_name.to_owned(),
            source,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(unusable)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(unusable)?;
        // The accept loop speaks HTTP/1.1 only; a client offering h2 alone is refused at the
        // handshake rather than misunderstood after it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self::new(Arc::new(config)))
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("alpn_protocols", &self.config.alpn_protocols.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_that_is_no_certificate_or_no_key_is_refused_by_name() {
        let err = Tls::from_pem(b"not pem", b"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the certificate chain is not a PEM certificate chain"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = Tls::from_pem_files(&missing, &missing).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
