//! A throwaway CA and `localhost` server certificate for the TLS arms of `bench echo` and
//! `bench broadcast`, made at run time (rcgen) into a temporary folder removed on drop, so a
//! TLS measurement needs no files prepared by hand.

use std::error::Error;
use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use server_core::{TlsAcceptor, TlsConnector};

/// PEM files of one CA and one server certificate it signed for `localhost`.
pub struct BenchPki {
    dir: PathBuf,
}

impl BenchPki {
    /// Makes the CA and the certificate and writes them out.
    pub fn new() -> Result<BenchPki, Box<dyn Error>> {
        let dir = std::env::temp_dir().join(format!("bench-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let pki = BenchPki { dir };

        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "bench CA");
        let ca_key = KeyPair::generate()?;
        let ca = ca_params.self_signed(&ca_key)?;
        let leaf_key = KeyPair::generate()?;
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])?
            .signed_by(&leaf_key, &ca, &ca_key)?;

        std::fs::write(pki.ca(), ca.pem())?;
        std::fs::write(pki.cert(), leaf.pem())?;
        std::fs::write(pki.key(), leaf_key.serialize_pem())?;
        Ok(pki)
    }

    /// The CA the bots trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The server's key.
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The server side, loaded from the files.
    pub fn acceptor(&self) -> Result<TlsAcceptor, Box<dyn Error>> {
        Ok(TlsAcceptor::from_pem_files(self.cert(), self.key())?)
    }

    /// The client side, trusting the CA and expecting `localhost`.
    pub fn connector(&self) -> Result<TlsConnector, Box<dyn Error>> {
        Ok(TlsConnector::from_ca_pem_file(self.ca(), "localhost")?)
    }
}

impl Drop for BenchPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
