//! TLS for PostgreSQL connections, with libpq's `sslmode` semantics (what Metaxy's psycopg connection does):
//!
//! | `sslmode` | here |
//! |---|---|
//! | `disable` | plain TCP |
//! | `prefer` (default), `allow` | TLS when the server offers it, plain otherwise; certificate not verified |
//! | `require` | TLS or fail; certificate not verified, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | TLS, certificate chain verified against `sslrootcert` |
//! | `verify-full` | `verify-ca` plus the host name / IP checked against the certificate |
//!
//! `sslrootcert` is a PEM file, or `system` for the operating system's trust store; its default is
//! `~/.postgresql/root.crt` when that file exists, else the system trust store (libpq would fail instead).
//! Client certificates (`sslcert` / `sslkey`) are not supported: a clear error names them.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// How a connection negotiates TLS, parsed from `sslmode` / `sslrootcert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsPolicy {
    /// `sslmode=disable`: never TLS.
    Disable,
    /// `prefer` / `allow` / `require` without a root certificate: encrypt, do not verify the server.
    Unverified,
    /// `verify-ca` / `verify-full` (or `require` with `sslrootcert`): verify the chain against `roots`
    /// (`None`: the default roots), and the host name too when `hostname` is true.
    Verify {
        /// The `sslrootcert` file, `Some("system")` for the system store, `None` for the default.
        roots: Option<String>,
        /// `verify-full`: the certificate must name the host.
        hostname: bool,
    },
}

/// The TLS options libpq reads: `sslmode`, `sslrootcert` (and the unsupported `sslcert` / `sslkey`).
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// `sslmode` as given (`None`: libpq's default, `prefer`).
    pub sslmode: Option<String>,
    /// `sslrootcert` as given.
    pub sslrootcert: Option<String>,
    /// `sslcert` / `sslkey` were given (client certificates).
    pub client_cert: bool,
}

impl TlsOptions {
    /// The policy of these options, and the `sslmode` tokio-postgres must be given (it knows only disable / prefer
    /// / require).
    ///
    /// Errors: an unknown `sslmode`, or client certificates, as one line.
    pub fn policy(&self) -> Result<(TlsPolicy, tokio_postgres::config::SslMode), String> {
        use tokio_postgres::config::SslMode;
        if self.client_cert {
            return Err(
                "sslcert / sslkey (client certificates) are not supported by metaxy-tui".into(),
            );
        }
        let mode = self.sslmode.as_deref().unwrap_or("prefer");
        let verify = |hostname| TlsPolicy::Verify {
            roots: self.sslrootcert.clone(),
            hostname,
        };
        Ok(match mode {
            "disable" => (TlsPolicy::Disable, SslMode::Disable),
            "allow" | "prefer" => (TlsPolicy::Unverified, SslMode::Prefer),
            "require" if self.sslrootcert.is_some() => (verify(false), SslMode::Require),
            "require" => (TlsPolicy::Unverified, SslMode::Require),
            "verify-ca" => (verify(false), SslMode::Require),
            "verify-full" => (verify(true), SslMode::Require),
            other => {
                return Err(format!(
                "invalid sslmode {other:?} (disable, allow, prefer, require, verify-ca or verify-full)"
            ))
            }
        })
    }

    /// Takes libpq's TLS keys out of a URL's query string (tokio-postgres rejects `sslrootcert` and the
    /// `verify-*` modes), returning the URL without them.
    pub fn take_from_url(url: &str) -> (String, Self) {
        let mut opts = Self::default();
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_string(), opts);
        };
        let mut kept = vec![];
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "sslmode" => opts.sslmode = Some(v),
                "sslrootcert" => opts.sslrootcert = Some(v),
                "sslcert" | "sslkey" => opts.client_cert = true,
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (url, opts)
    }
}

/// `%XX` escapes of a URL query value decoded (`+` kept: libpq does not treat it as a space).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls client configuration of a policy other than [`TlsPolicy::Disable`] (ring as the crypto provider).
///
/// Errors: an unreadable or empty `sslrootcert`, or no usable system certificates, as one line.
pub fn client_config(policy: &TlsPolicy) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match policy {
        TlsPolicy::Disable | TlsPolicy::Unverified => Arc::new(NoVerify(provider)),
        TlsPolicy::Verify { roots, hostname } => {
            let (store, pinned) = root_store(roots.as_deref())?;
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            Arc::new(Verify {
                inner,
                hostname: *hostname,
                pinned,
            })
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The trust anchors of `sslrootcert` (a PEM file, `system`, or the default: `~/.postgresql/root.crt`, else
/// system) and the certificates of the file itself (a server's own self-signed certificate given as its root, which
/// OpenSSL and so libpq accept).
fn root_store(
    roots: Option<&str>,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let default = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
        .filter(|p| p.is_file());
    let file = match roots {
        Some("system") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => default,
    };
    let mut store = RootCertStore::empty();
    let mut pinned = vec![];
    match file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
            if added == 0 {
                return Err(format!(
                    "sslrootcert {}: no certificate in the file",
                    path.display()
                ));
            }
            pinned = certs;
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no system root certificates found (give sslrootcert=<file>)".into());
            }
        }
    }
    Ok((store, pinned))
}

/// libpq's `prefer` / `require`: the server's certificate is accepted as it is (signatures still checked).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca` / `verify-full`: the chain must lead to a trusted root (or the server's certificate is one
/// of the `sslrootcert` certificates itself); with `hostname`, the certificate must name the host.
#[derive(Debug)]
struct Verify {
    inner: Arc<WebPkiServerVerifier>,
    hostname: bool,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Verify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.hostname => Ok(ServerCertVerified::assertion()),
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tls_keys_are_taken_out_and_mapped_like_libpq() {
        let (url, o) = TlsOptions::take_from_url(
            "postgresql://u@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(url, "postgresql://u@h:5/db?application_name=x");
        assert_eq!(o.sslrootcert.as_deref(), Some("/tmp/ca.pem"));
        let (p, _) = o.policy().unwrap();
        assert_eq!(
            p,
            TlsPolicy::Verify {
                roots: Some("/tmp/ca.pem".into()),
                hostname: true
            }
        );
        let (_, o) = TlsOptions::take_from_url("postgresql://h/db?sslmode=require");
        assert_eq!(o.policy().unwrap().0, TlsPolicy::Unverified);
        let (_, o) = TlsOptions::take_from_url("postgresql://h/db");
        assert_eq!(o.policy().unwrap().0, TlsPolicy::Unverified);
        let (_, o) = TlsOptions::take_from_url("postgresql://h/db?sslmode=disable");
        assert_eq!(o.policy().unwrap().0, TlsPolicy::Disable);
        let (_, o) = TlsOptions::take_from_url("postgresql://h/db?sslmode=bogus");
        assert!(o.policy().unwrap_err().contains("bogus"));
        let (_, o) = TlsOptions::take_from_url("postgresql://h/db?sslcert=a.pem");
        assert!(o.policy().unwrap_err().contains("client certificates"));
    }
}
