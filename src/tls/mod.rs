//! HTTPS settings: the certificate a server presents and the rustls server
//! configuration built from it, once, at start-up.
//!
//! A [`Tls`] comes from PEM files ([`Tls::from_pem_files`]: a chain and a
//! PKCS#8, RSA or EC key, checked to match) or is generated
//! ([`Tls::self_signed`]: rcgen, for `localhost`, 127.0.0.1, ::1 and this
//! machine's LAN addresses). Every way it can fail is one [`TlsError`]
//! sentence. The protocol choices are rustls's safe defaults (TLS 1.2 and
//! 1.3, its cipher suites and groups) with ALPN `h2` and `http/1.1`, resumption by
//! tickets (and session IDs), and the `ring` provider. How the bytes of a
//! connection pass through the session is [`stream`]'s business (received
//! records reach it whole through `incoming`, which charges those still
//! arriving to the memory budget); when to read, write and time out stays
//! with `connection`.

mod incoming;
mod outgoing;
pub mod stream;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// How long a generated certificate is valid. It is made anew at every
/// start, so this only needs to outlast a run; 397 days is the most that
/// browsers accept for any certificate that a CA issued, so no client
/// refuses it for its lifetime.
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(397 * 24 * 3600);
/// Back-dating of a generated certificate's start, for clients whose clock
/// is a little behind this machine's.
const SELF_SIGNED_BACKDATE: Duration = Duration::from_secs(3600);
/// The ALPN protocols offered: HTTP/2 first (what every browser picks
/// when it can), HTTP/1.1 kept for everyone else; with
/// `Config::http1_only`, HTTP/1.1 alone.
const ALPN_HTTP11: &[u8] = b"http/1.1";
const ALPN_H2: &[u8] = b"h2";

/// A certificate and key ready to serve HTTPS, with the rustls settings
/// made from them. Cheap to clone (the settings are shared).
#[derive(Clone)]
pub struct Tls {
    /// Offering `h2` and `http/1.1`.
    config: Arc<ServerConfig>,
    /// The same, offering `http/1.1` alone.
    http1_config: Arc<ServerConfig>,
    /// The end-entity certificate, DER (`None` for settings handed in
    /// whole, whose certificates are their resolver's business).
    leaf: Option<CertificateDer<'static>>,
    /// The certificate in PEM when it was generated here (to be written out).
    generated_pem: Option<String>,
    /// The names a generated certificate covers.
    names: Vec<String>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint())
            .field("self_signed", &self.generated_pem.is_some())
            .finish()
    }
}

/// Why HTTPS could not be set up. Each says what to fix, in one sentence.
#[derive(Debug)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    Read(PathBuf, io::Error),
    /// The certificate file holds no PEM certificate.
    NoCertificate(PathBuf),
    /// The key file holds no PEM private key rustls understands.
    NoKey(PathBuf),
    /// A PEM section is damaged.
    BadPem(PathBuf, String),
    /// The key is not the certificate's, or one of them is unusable.
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls found wrong.
        reason: String,
    },
    /// Generating a self-signed certificate failed.
    Generate(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            TlsError::NoCertificate(path) => {
                write!(f, "{} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)", path.display())
            }
            TlsError::NoKey(path) => write!(
                f,
                "{} holds no private key (expected a PEM PKCS#8, RSA or EC \"PRIVATE KEY\" block)",
                path.display()
            ),
            TlsError::BadPem(path, why) => write!(f, "{} is not valid PEM: {why}", path.display()),
            TlsError::Mismatch { cert, key, reason } => write!(
                f,
                "the private key in {} cannot be used with the certificate in {}: {reason}",
                key.display(),
                cert.display()
            ),
            TlsError::Generate(why) => write!(f, "cannot generate a self-signed certificate: {why}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl Tls {
    /// Loads a certificate chain (leaf first) and its private key from PEM
    /// files, and checks that the key belongs to the leaf.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Tls, TlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let cert_pem = std::fs::read(cert).map_err(|e| TlsError::Read(cert.to_path_buf(), e))?;
        let key_pem = std::fs::read(key).map_err(|e| TlsError::Read(key.to_path_buf(), e))?;
        let chain = parse_chain(&cert_pem).map_err(|e| e.in_cert(cert))?;
        let key_der = parse_key(&key_pem).map_err(|e| e.in_key(key))?;
        let mismatch = |reason: String| TlsError::Mismatch { cert: cert.to_path_buf(), key: key.to_path_buf(), reason };
        Tls::new(chain, key_der, None, Vec::new()).map_err(mismatch)
    }

    /// Generates a self-signed certificate (ECDSA P-256) for `localhost`,
    /// 127.0.0.1, ::1 and `lan` (this machine's other addresses, see
    /// [`lan_addresses`]).
    pub fn self_signed(lan: &[IpAddr]) -> Result<Tls, TlsError> {
        let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let mut names = vec!["localhost".to_string(), Ipv4Addr::LOCALHOST.to_string(), Ipv6Addr::LOCALHOST.to_string()];
        for address in lan {
            let name = address.to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        // rcgen turns names that parse as IP addresses into IP SANs.
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(generate)?;
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CommonName, "rawserve self-signed certificate");
        params.distinguished_name = subject;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - SELF_SIGNED_BACKDATE;
        params.not_after = now + SELF_SIGNED_VALIDITY;
        let key = rcgen::KeyPair::generate().map_err(generate)?;
        let certificate = params.self_signed(&key).map_err(generate)?;
        let pem = certificate.pem();
        let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        Tls::new(vec![certificate.der().clone()], key_der, Some(pem), names).map_err(TlsError::Generate)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        generated_pem: Option<String>,
        names: Vec<String>,
    ) -> Result<Tls, String> {
        let leaf = chain[0].clone(); // OK because parse_chain and self_signed never give an empty chain
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            // Fails unless the key is the leaf's (rustls compares their public keys).
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        // The server's order (rustls's: AES-256-GCM, AES-128-GCM, ChaCha20;
        // every one AEAD with forward secrecy) rather than the client's, so
        // a client cannot steer the choice down its list; scanners such as
        // testssl.sh rate a server without an order as a finding.
        config.ignore_client_order = true;
        // Resumption: TLS 1.3 (and 1.2) tickets, so a returning client skips
        // the certificate and the key exchange's signature. rustls's
        // default in-memory session-ID cache stays for TLS 1.2 clients
        // without ticket support.
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| e.to_string())?;
        let (config, http1_config) = with_alpn(config);
        Ok(Tls { config, http1_config, leaf: Some(leaf), generated_pem, names })
    }

    /// Serves HTTPS with rustls settings made by the caller: a certificate
    /// resolver (SNI, ACME, certificates reloaded at run time), client
    /// certificates, another crypto provider, a session cache. The ALPN
    /// list is set to what rawserve speaks (`h2` and `http/1.1`, or `http/1.1` alone with `Config::http1_only`), replacing the
    /// settings' own: offering a protocol the server then does not speak
    /// would break every client that picks it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rawserve::Tls;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let made = Tls::self_signed(&[])?;
    /// # let pem = made.self_signed_pem().unwrap_or_default().to_string();
    /// # let dir = tempfile::tempdir()?;
    /// # let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    /// # std::fs::write(&cert, &pem)?;
    /// // Any rustls::ServerConfig, built as the application needs.
    /// let resolver = Arc::new(rustls::server::ResolvesServerCertUsingSni::new());
    /// let config = rustls::ServerConfig::builder().with_no_client_auth().with_cert_resolver(resolver);
    /// let tls = Tls::from_server_config(Arc::new(config));
    /// assert_eq!(tls.fingerprint(), None, "its certificates are the resolver's");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_server_config(config: Arc<ServerConfig>) -> Tls {
        let (config, http1_config) = with_alpn(Arc::unwrap_or_clone(config));
        Tls { config, http1_config, leaf: None, generated_pem: None, names: Vec::new() }
    }

    /// The SHA-256 fingerprint of the certificate, as `openssl x509
    /// -fingerprint -sha256` prints it (`AB:CD:…`); `None` for settings
    /// handed in whole ([`Tls::from_server_config`]).
    pub fn fingerprint(&self) -> Option<String> {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.leaf.as_ref()?);
        let hex: Vec<String> = digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect();
        Some(hex.join(":"))
    }

    /// The generated certificate in PEM (for `curl --cacert`), or `None`
    /// for one loaded from files.
    pub fn self_signed_pem(&self) -> Option<&str> {
        self.generated_pem.as_deref()
    }

    /// The names and addresses a generated certificate covers (empty for
    /// one loaded from files).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The rustls settings every connection's session is made from:
    /// offering HTTP/2 unless `http1_only`.
    pub(crate) fn server_config(&self, http1_only: bool) -> &Arc<ServerConfig> {
        if http1_only {
            &self.http1_config
        } else {
            &self.config
        }
    }
}

/// `config` offering `h2` and `http/1.1` by ALPN, and offering
/// `http/1.1` alone.
fn with_alpn(mut config: ServerConfig) -> (Arc<ServerConfig>, Arc<ServerConfig>) {
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    let http1 = Arc::new(config.clone());
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    (Arc::new(config), http1)
}

/// This machine's addresses other than loopback, for a self-signed
/// certificate that LAN clients can check. IPv6 link-local addresses are
/// left out: a URL can only use them with a zone, which certificates
/// cannot name. Empty when the interfaces cannot be listed.
pub fn lan_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else { return Vec::new() };
    let mut addresses: Vec<IpAddr> = interfaces
        .iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// Why a PEM text could not be used (the file's path is added by the caller).
#[derive(Debug, PartialEq)]
enum PemError {
    /// No item of the kind wanted.
    Missing,
    Bad(String),
}

impl PemError {
    /// As an error about the certificate file at `path`.
    fn in_cert(self, path: &Path) -> TlsError {
        match self {
            PemError::Missing => TlsError::NoCertificate(path.to_path_buf()),
            PemError::Bad(why) => TlsError::BadPem(path.to_path_buf(), why),
        }
    }

    /// As an error about the key file at `path`.
    fn in_key(self, path: &Path) -> TlsError {
        match self {
            PemError::Missing => TlsError::NoKey(path.to_path_buf()),
            PemError::Bad(why) => TlsError::BadPem(path.to_path_buf(), why),
        }
    }
}

/// Every certificate in a PEM text, in order.
fn parse_chain(text: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let chain = CertificateDer::pem_slice_iter(text)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| PemError::Bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(PemError::Missing);
    }
    Ok(chain)
}

/// The first private key in a PEM text (PKCS#8, PKCS#1 RSA or SEC1 EC).
fn parse_key(text: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    match PrivateKeyDer::from_pem_slice(text) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(PemError::Missing),
        Err(e) => Err(PemError::Bad(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params").self_signed(&key);
        (cert.expect("cert").pem(), key.serialize_pem())
    }

    #[test]
    fn pem_texts_give_chains_and_keys_or_say_what_is_missing() {
        let (cert, key) = generated();
        assert_eq!(parse_chain(cert.as_bytes()).map(|c| c.len()), Ok(1));
        assert_eq!(parse_chain(format!("{cert}{cert}").as_bytes()).map(|c| c.len()), Ok(2));
        assert_eq!(parse_chain(b""), Err(PemError::Missing));
        assert_eq!(parse_chain(key.as_bytes()), Err(PemError::Missing));
        assert!(matches!(
            parse_chain(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
            Err(PemError::Bad(_))
        ));
        assert!(parse_key(key.as_bytes()).is_ok());
        assert!(parse_key(format!("{cert}{key}").as_bytes()).is_ok());
        assert_eq!(parse_key(cert.as_bytes()).err(), Some(PemError::Missing));
        assert_eq!(parse_key(b"not pem at all").err(), Some(PemError::Missing));
    }

    #[test]
    fn a_self_signed_certificate_covers_the_loopback_names_and_the_lan() {
        let lan: IpAddr = "192.168.1.20".parse().expect("address");
        let tls = Tls::self_signed(&[lan, IpAddr::V4(Ipv4Addr::LOCALHOST)]).expect("generated");
        assert_eq!(tls.names(), ["localhost", "127.0.0.1", "::1", "192.168.1.20"]);
        assert!(tls.self_signed_pem().is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")));
        let fingerprint = tls.fingerprint().expect("a certificate of its own");
        assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
        assert!(fingerprint.split(':').all(|byte| byte.len() == 2 && byte.chars().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(tls.server_config(true).alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(tls.server_config(false).alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn lan_addresses_leave_out_loopback_and_link_local() {
        for address in lan_addresses() {
            assert!(!address.is_loopback(), "{address}");
            assert!(!matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local()), "{address}");
        }
    }
}
