//! `game-server gen-cert DIR`: a development CA and a server certificate it signed, in one
//! command, for the TLS listener and for clients that trust the CA.
//!
//! Why not `openssl req -x509`, what most people try first: that makes one self-signed
//! certificate marked as a CA, and rustls refuses a CA certificate as a server's own
//! ("invalid peer certificate: CaUsedAsEndEntity"). A CA that signs a separate server
//! certificate is what a real deployment has too, so clients trust the CA and the server
//! certificate can be renewed without touching them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// What `gen-cert` could not do, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum GenCertError {
    /// rcgen refused a name or could not sign.
    #[error("cannot make the certificates: {0}")]
    Make(#[from] rcgen::Error),
    /// A file already exists: certificates are not overwritten by accident.
    #[error("{0} already exists; remove it (or choose another folder) to make new certificates")]
    Exists(PathBuf),
    /// The folder or a file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// The files `gen-cert` writes into its folder.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// The CA's certificate: what clients trust (`dummy-client --tls-ca`).
    pub ca: PathBuf,
    /// The CA's key (kept to sign more certificates; private).
    pub ca_key: PathBuf,
    /// The server's certificate chain (`game-server --tls-cert`).
    pub cert: PathBuf,
    /// The server's key (`game-server --tls-key`; private).
    pub key: PathBuf,
}

impl DevPki {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> DevPki {
        DevPki {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        }
    }
}

/// Makes a CA and a server certificate for `names` (DNS names or IP addresses) in `dir`,
/// which is created if missing. Existing files are never overwritten.
pub fn gen_cert(dir: &Path, names: &[String]) -> Result<DevPki, GenCertError> {
    let files = DevPki::in_dir(dir);
    for path in [&files.ca, &files.ca_key, &files.cert, &files.key] {
        if path.exists() {
            return Err(GenCertError::Exists(path.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| GenCertError::Write {
        path: dir.to_owned(),
        source,
    })?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "game-server development CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;

    let mut leaf_params = CertificateParams::new(names.to_vec())?;
    leaf_params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;

    write_new(&files.ca, ca.pem().as_bytes(), false)?;
    write_new(&files.ca_key, ca_key.serialize_pem().as_bytes(), true)?;
    write_new(&files.cert, leaf.pem().as_bytes(), false)?;
    write_new(&files.key, leaf_key.serialize_pem().as_bytes(), true)?;
    Ok(files)
}

/// Writes a file that must not exist yet; a private one is readable by its owner only.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), GenCertError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let write = |source| GenCertError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => GenCertError::Exists(path.to_owned()),
        _ => write(e),
    })?;
    file.write_all(bytes).map_err(write)
}

#[cfg(test)]
mod tests {
    use server_core::{TlsAcceptor, TlsConnector};

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gen-cert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_files_load_as_a_server_chain_and_a_client_trust_root() {
        let dir = temp_dir("load");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let files = gen_cert(&dir, &names).expect("made");
        TlsAcceptor::from_pem_files(&files.cert, &files.key).expect("the server loads them");
        TlsConnector::from_ca_pem_file(&files.ca, "localhost").expect("a client trusts the CA");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key)
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the server key is private");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = temp_dir("exists");
        gen_cert(&dir, &["localhost".to_owned()]).expect("made");
        let before = std::fs::read(dir.join("server.pem")).expect("read");
        match gen_cert(&dir, &["localhost".to_owned()]) {
            Err(GenCertError::Exists(path)) => assert_eq!(path, dir.join("ca.pem")),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(std::fs::read(dir.join("server.pem")).expect("read"), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
