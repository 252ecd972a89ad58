//! TLS settings for a [`Listener`](crate::Listener) and a [`Connector`](crate::Connector):
//! rustls with the `ring` provider, loaded from PEM files.
//!
//! Only the loading lives here; the handshake runs in the listener's per-connection task and
//! the session over the encrypted stream in `stream_driver.rs`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

/// A TLS file or setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file is missing or unreadable.
    #[error("cannot read the {what} file {path}: {source}")]
    Read {
        /// Which file ("certificate chain", "private key", "CA certificate").
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The file is not valid PEM.
    #[error("the {what} file {path} is not valid PEM: {reason}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The file holds no item of the kind expected (no CERTIFICATE block, no PRIVATE KEY).
    #[error("the {what} file {path} holds no {what}")]
    Empty {
        /// Which file.
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// rustls refused the material: the key does not match the certificate, an unsupported
    /// key type, a CA certificate that does not parse, ...
    #[error("{what} refused: {source}")]
    Rejected {
        /// What was being set up.
        what: &'static str,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// The name to verify the server's certificate against is not a DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// The server side of TLS: a certificate chain and its key. Cheap to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    pub(crate) inner: tokio_rustls::TlsAcceptor,
}

impl TlsAcceptor {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or
    /// SEC1). A missing, unreadable or malformed file, or a key that does not belong to the
    /// leaf certificate, is a [`TlsError`] naming the file.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        const CHAIN: &str = "certificate chain";
        const KEY: &str = "private key";
        let chain_path = cert_chain.as_ref();
        let chain = certificates(chain_path, CHAIN)?;
        let key_path = key.as_ref();
        let key_pem = read(key_path, KEY)?;
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| pem_error(e, key_path, KEY))?;

        let rejected = |source| TlsError::Rejected {
            what: "server certificate and key",
            source,
        };
        // `with_single_cert` also checks that the key belongs to the leaf certificate.
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected)?;
        Ok(Self::from_rustls(Arc::new(config)))
    }

    /// Wraps a rustls server configuration built by hand (client certificates, several
    /// certificates by SNI, ...).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(config),
        }
    }
}

impl TlsAcceptor {
    /// Runs the server side of a handshake on `stream` and returns the encrypted stream, for
    /// code that drives its own I/O (benchmarks, other protocols). A [`Listener`] given this
    /// acceptor does this itself, with a timeout.
    ///
    /// [`Listener`]: crate::Listener
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        self.inner.accept(stream).await
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

/// The client side of TLS: which CAs to trust and which name the server must prove. Cheap
/// to clone.
#[derive(Clone)]
pub struct TlsConnector {
    pub(crate) inner: tokio_rustls::TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

impl TlsConnector {
    /// Trusts the CA certificates in the PEM file `ca` (and nothing else) and expects the
    /// server's certificate to name `server_name` (a DNS name or an IP address).
    pub fn from_ca_pem_file(ca: impl AsRef<Path>, server_name: &str) -> Result<Self, TlsError> {
        const CA: &str = "CA certificate";
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca.as_ref(), CA)? {
            roots.add(cert).map_err(|source| TlsError::Rejected {
                what: "CA certificate",
                source,
            })?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rejected {
                what: "client protocol versions",
                source,
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self::from_rustls(Arc::new(config), server_name)
    }

    /// Wraps a rustls client configuration built by hand.
    pub fn from_rustls(
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, TlsError> {
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(config),
            server_name,
        })
    }
}

impl TlsConnector {
    /// Runs the client side of a handshake on `stream` and returns the encrypted stream, for
    /// code that drives its own I/O. A [`Connector`] given this connector does this itself,
    /// with a timeout.
    ///
    /// [`Connector`]: crate::Connector
    pub async fn connect(
        &self,
        stream: TcpStream,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        self.inner.connect(self.server_name.clone(), stream).await
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The `ring` provider, named explicitly: rustls's process-wide default would panic if some
/// other crate in a build turned on a second provider.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Every CERTIFICATE block of a PEM file; at least one.
fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e, path, what))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn pem_error(e: rustls_pki_types::pem::Error, path: &Path, what: &'static str) -> TlsError {
    match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            what,
            path: path.to_owned(),
        },
        other => TlsError::Pem {
            what,
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}
