//! The mail listeners' (SMTP, POP3, IMAP) client connections: accepted, and upgraded
//! to TLS (SMTP's STARTTLS, POP3's STLS, IMAP's STARTTLS). By default TLS uses one
//! self-signed certificate, made on first run and kept in the data folder; or a
//! certificate and key the user names (`--pop3-tls-cert`/`--pop3-tls-key`).
//!
//! Clients of a local capture server do not verify its certificate (there is no CA
//! that could vouch for `localhost`), but they do want TLS to work, because the
//! application or mail client under test is configured to use it. Keeping the
//! certificate across runs lets a developer pin it once if their client insists on
//! verifying.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// Why the TLS set-up failed; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot write the TLS certificate {path}: {source}; make the data folder writable")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "cannot use the TLS certificate in {dir}: {reason}; delete cert.pem and key.pem there to have new ones made"
    )]
    Invalid { dir: PathBuf, reason: String },
    #[error(
        "cannot use the TLS certificate {cert} with the key {key}: {reason}; give a PEM certificate chain and its \
         PEM private key"
    )]
    Given { cert: PathBuf, key: PathBuf, reason: String },
}

/// A TLS acceptor for `tls_dir/cert.pem` + `key.pem`, creating both if missing.
pub fn acceptor(tls_dir: &Path, hostname: &str) -> Result<TlsAcceptor, TlsError> {
    let cert_path = tls_dir.join("cert.pem");
    let key_path = tls_dir.join("key.pem");
    if !cert_path.exists() || !key_path.exists() {
        create_certificate(tls_dir, &cert_path, &key_path, hostname)?;
    }
    load(&cert_path, &key_path).map_err(|reason| TlsError::Invalid { dir: tls_dir.to_path_buf(), reason })
}

/// A TLS acceptor for a certificate chain and key the user gave (PEM files).
pub fn acceptor_from_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    load(cert, key).map_err(|reason| TlsError::Given { cert: cert.to_path_buf(), key: key.to_path_buf(), reason })
}

fn load(cert_path: &Path, key_path: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("the certificate: {err}"))?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| format!("the key: {err}"))?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| err.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The next client of `listener` (Nagle off: replies are small and awaited), or
/// `None` once shutdown is signalled. A failed accept (typically out of file
/// descriptors) is logged and retried after a pause instead of spinning.
pub async fn accept(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
    what: &str,
) -> Option<(TcpStream, std::net::SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|&stop| stop) => return None,
        };
        match accepted {
            Ok((socket, peer)) => {
                let _ = socket.set_nodelay(true);
                return Some((socket, peer));
            }
            Err(err) => {
                tracing::warn!("{what} accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A client connection, in the clear or upgraded by STARTTLS (SMTP), STLS (POP3)
/// or STARTTLS (IMAP).
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// The stream went into a TLS handshake that failed: nothing to read or write.
    Lost,
}

impl Connection {
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(stream) => stream.read(buf).await,
            Connection::Tls(stream) => stream.read(buf).await,
            Connection::Lost => Ok(0),
        }
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Connection::Plain(stream) => stream.write_all(bytes).await,
            Connection::Tls(stream) => stream.write_all(bytes).await,
            Connection::Lost => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Connection::Plain(stream) => stream.shutdown().await,
            Connection::Tls(stream) => stream.shutdown().await,
            Connection::Lost => Ok(()),
        }
    }

    /// The TLS handshake on a plain connection, within `limit`. A failed handshake
    /// leaves nothing usable: the caller ends the session.
    pub async fn upgrade(self, acceptor: &TlsAcceptor, limit: Duration) -> io::Result<Connection> {
        let Connection::Plain(tcp) = self else {
            return Err(io::Error::other("TLS asked for on a connection that is already encrypted"));
        };
        match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => Ok(Connection::Tls(Box::new(stream))),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }
}

fn create_certificate(dir: &Path, cert_path: &Path, key_path: &Path, hostname: &str) -> Result<(), TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string(), hostname.to_string()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|err| TlsError::Invalid { dir: dir.to_path_buf(), reason: err.to_string() })?;
    let write = |path: &Path, contents: String| {
        fs::create_dir_all(dir)
            .and_then(|()| write_private(path, contents.as_bytes()))
            .map_err(|source| TlsError::Write { path: path.to_path_buf(), source })
    };
    write(key_path, certified.signing_key.serialize_pem())?;
    write(cert_path, certified.cert.pem())
}

/// Write a file readable by its owner only (the key is a secret, if a small one).
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    io::Write::write_all(&mut options.open(path)?, contents)
}
