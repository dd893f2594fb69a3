//! Posting one delivery: the address checked, the body signed, the answer measured.
//!
//! Each attempt is a POST of the delivery's body with `Handoff-Timestamp` (unix seconds) and
//! `Handoff-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. Redirects are not
//! followed (a 3xx is a failed attempt), proxies from the environment are not used, and unless
//! the operator allows it ([`crate::Config::webhooks_to_private_addresses`]) an address that is
//! or resolves to a loopback, private or link-local one is refused: an Admin's webhook cannot
//! make the server reach what only it can reach.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one attempt may take, answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer's body the delivery log keeps.
pub const RESPONSE_KEPT: usize = 512;

/// The header names, as docs/api.md gives them.
pub const TIMESTAMP_HEADER: &str = "Handoff-Timestamp";
pub const SIGNATURE_HEADER: &str = "Handoff-Signature";
pub const DELIVERY_HEADER: &str = "Handoff-Delivery";

/// `sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` with the endpoint's secret.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An endpoint's address as stored, or why it cannot be one.
pub fn check_url(text: &str, private_allowed: bool) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > super::MAX_URL_CHARS {
        return Err(format!("The address is longer than {} characters.", super::MAX_URL_CHARS));
    }
    let mut url = url::Url::parse(text).map_err(|e| format!("This is not an address ({e}): give https://…"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("Webhooks are posted over https or http, not {}.", url.scheme()));
    }
    let Some(host) = url.host() else { return Err("The address names no host.".into()) };
    if !private_allowed {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost"),
        };
        if private {
            return Err(format!(
                "{host} is a loopback, private or link-local address, which this server does not post to \
                 (its operator can allow it: webhooks_to_private_addresses)."
            ));
        }
    }
    url.set_fragment(None);
    Ok(url.to_string())
}

/// The host an address names (what the audit log and a pause notice show: the path and query may
/// hold a secret).
pub fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "(no host)".into())
}

/// Loopback, private, link-local, shared (CGNAT), benchmarking, reserved, unspecified,
/// broadcast or multicast; for IPv6 also the forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4), judged by that address, and site-local.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || a >= 240 // reserved
                || a == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d).
            let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
            if compatible || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private(IpAddr::V4(embedded(s[6], s[7])));
            }
            // 6to4 (2002:a.b.c.d::/48).
            if s[0] == 0x2002 {
                return is_private(IpAddr::V4(embedded(s[1], s[2])));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        }
    }
}

/// Name resolution that drops private addresses (and fails when nothing else is left).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves only to loopback, private or link-local addresses").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Answer {
    /// 2xx.
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    /// The answer body's first bytes ([`RESPONSE_KEPT`]), as text.
    pub response: Option<String>,
}

/// Posts deliveries. One per server: its connections are kept and reused.
#[derive(Clone)]
pub struct Poster {
    client: reqwest::Client,
    private_allowed: bool,
}

impl Poster {
    pub fn new(private_allowed: bool) -> anyhow::Result<Poster> {
        let mut builder = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Handoff-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !private_allowed {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Poster { client: builder.build()?, private_allowed })
    }

    /// One attempt: `body` posted to `url`, signed at `timestamp` (unix seconds).
    pub async fn post(&self, url: &str, secret: &str, delivery: &str, body: &str, timestamp: i64) -> Answer {
        let started = Instant::now();
        let failed = |error: String| Answer {
            ok: false,
            status_code: None,
            latency: started.elapsed(),
            error: Some(error),
            response: None,
        };
        // The address was checked when it was registered; checked again (the operator may have
        // changed the setting since).
        if let Err(e) = check_url(url, self.private_allowed) {
            return failed(e);
        }
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(secret, timestamp, body.as_bytes()))
            .header(DELIVERY_HEADER, delivery)
            .body(body.to_owned())
            .send()
            .await;
        let mut res = match sent {
            Ok(res) => res,
            Err(e) => return failed(describe(&e)),
        };
        let status = res.status();
        // The first bytes of the answer, without waiting for (or holding) the rest.
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_KEPT {
            match res.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_KEPT - kept.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        let response = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
        let ok = status.is_success();
        let error = (!ok).then(|| match status.as_u16() {
            300..=399 => format!("answered {status} (redirects are not followed: register the final address)"),
            _ => format!("answered {status}"),
        });
        Answer { ok, status_code: Some(status.as_u16()), latency: started.elapsed(), error, response }
    }
}

/// A failed request in words: timed out, refused, a TLS problem, a refused address.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    // The innermost cause says the most (connection refused, certificate expired, ...).
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        text.push_str(": ");
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/x",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.10/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::10.0.0.1]/",
            "http://[2002:c0a8:0101::1]/",
            "http://[::10.0.0.1]/",
            "http://[fec0::1]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
            "http://localhost:8080/",
            "http://0.0.0.0/",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        assert_eq!(
            check_url("https://hooks.example.com/in?t=1#frag", false).unwrap(),
            "https://hooks.example.com/in?t=1"
        );
        for public in [
            "http://93.184.215.14/",
            "http://[2606:4700::1111]/",
            "http://[64:ff9b::8.8.8.8]/",
            "http://[2002:0808:0808::1]/",
        ] {
            assert!(check_url(public, false).is_ok(), "{public}");
        }
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("example.com/hook", true).is_err());
        assert!(check_url("http://", true).is_err());
    }

    #[test]
    fn host_of_drops_path_and_query() {
        assert_eq!(host_of("https://hooks.example.com/in/secret?token=abc"), "hooks.example.com");
    }
}
