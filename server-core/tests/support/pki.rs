//! A throwaway PKI for TLS tests: a self-signed CA and a leaf certificate for `localhost`
//! and 127.0.0.1 signed by it, made at run time with rcgen and written as PEM files into a
//! fresh temporary folder that is removed on drop. Shared by server-core's and the
//! workspace's tests through `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// PEM files of one test CA and one server certificate it signed.
pub struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    /// A new CA and a server certificate for `localhost` and 127.0.0.1.
    pub fn new() -> TestPki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "server-core-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the PKI folder");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "server-core test CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");

        let leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("leaf params");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("sign the leaf");

        let pki = TestPki { dir };
        std::fs::write(pki.ca(), ca.pem()).expect("write ca.pem");
        std::fs::write(pki.cert(), leaf.pem()).expect("write cert.pem");
        std::fs::write(pki.key(), leaf_key.serialize_pem()).expect("write key.pem");
        // A key that belongs to no certificate here, for the mismatch case.
        let stray = KeyPair::generate().expect("stray key");
        std::fs::write(pki.stray_key(), stray.serialize_pem()).expect("write stray.pem");
        pki
    }

    /// The CA certificate a client should trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's certificate chain (the leaf).
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The server's private key.
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// A valid key that matches no certificate.
    pub fn stray_key(&self) -> PathBuf {
        self.dir.join("stray.pem")
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
