//! One TLS stack for everything the core says to the server.
//!
//! The core speaks TLS through the operating system's own library (native-tls: SChannel on
//! Windows, Security.framework on macOS, OpenSSL on Linux), with the operating system's trust
//! store. That is what a company's IT department manages: a private CA or a TLS-inspecting proxy
//! installed in the OS store is trusted here as in the browser, with nothing to configure in the
//! app. [`connector`] builds one connector, and the same one serves HTTP (reqwest) and the live
//! WebSocket (tokio-tungstenite), so both trust exactly the same servers (docs/decisions.md).

use crate::{CoreError, CoreResult};

/// What the core's connections trust besides the operating system's store.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// PEM certificates (one or more per entry) to trust as roots, e.g. a private CA that is not
    /// installed in the OS store. The desktop app reads them from `HANDOFF_CA_FILE`.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// The key the cache file is encrypted with (the desktop app keeps one per workspace in the
    /// OS keyring); `None` keeps a plain SQLite file (tests, the benchmark's baseline).
    pub cache_key: Option<crate::CacheKey>,
}

impl ClientOptions {
    /// Options from the environment: `HANDOFF_CA_FILE`, a PEM file of certificates to trust.
    pub fn from_env() -> CoreResult<ClientOptions> {
        let mut options = ClientOptions::default();
        if let Some(path) = std::env::var_os("HANDOFF_CA_FILE").filter(|p| !p.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| {
                CoreError::Invalid(format!("HANDOFF_CA_FILE {} cannot be read: {e}", path.to_string_lossy()))
            })?;
            options.extra_roots_pem.push(pem);
        }
        Ok(options)
    }
}

/// The TLS connector for HTTP and the WebSocket: TLS 1.2 or newer, the OS's roots plus `options`'.
pub fn connector(options: &ClientOptions) -> CoreResult<native_tls::TlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    for pem in &options.extra_roots_pem {
        let certs = native_tls::Certificate::stack_from_pem(pem)
            .map_err(|e| CoreError::Invalid(format!("a certificate to trust is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(CoreError::Invalid("a certificate file to trust holds no certificate".into()));
        }
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| CoreError::Invalid(format!("TLS cannot be set up: {e}")))
}

/// The TLS library's own error somewhere in `error`'s sources (a certificate not trusted, a
/// failed handshake), as a sentence; `None` for anything else.
pub fn failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<native_tls::Error>() {
            return Some(tls.to_string());
        }
        source = e.source();
    }
    None
}
