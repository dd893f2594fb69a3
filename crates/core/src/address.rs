//! The server address an agent types at sign-in: what it means, and whether the connection to it
//! is encrypted.
//!
//! * `inbox.example.com` (a bare host name) means `https://inbox.example.com`.
//! * `https://…` is taken as it is.
//! * `http://…` sends the password and every message in clear text, so it is accepted only for
//!   this computer (loopback) and private networks, and the session then says it is not
//!   encrypted. For anything else the agent is told to use `https://`.
//! * A bare loopback address (`localhost:8750`, `127.0.0.1:8750`) means `http://`: nothing leaves
//!   the computer, and a server on it (the demo's) has no certificate.

use std::net::{Ipv4Addr, Ipv6Addr};

use reqwest::Url;
use serde::Serialize;

use crate::{CoreError, CoreResult};

/// A server address as the core will use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ServerAddress {
    /// `https://host[:port][/path]` or `http://…`, without a trailing slash.
    pub url: String,
    /// TLS protects the connection (https and wss).
    pub encrypted: bool,
}

/// Reads what the agent typed. Errors say what to type instead.
pub fn parse(input: &str) -> CoreResult<ServerAddress> {
    let trimmed = input.trim();
    if trimmed.trim_end_matches('/').is_empty() {
        return Err(CoreError::Invalid("enter the server's address".into()));
    }
    let lower = trimmed.to_ascii_lowercase();
    let (explicit, rest) = if lower.starts_with("https://") {
        (Some("https"), &trimmed["https://".len()..])
    } else if lower.starts_with("http://") {
        (Some("http"), &trimmed["http://".len()..])
    } else if trimmed.contains("://") {
        return Err(CoreError::Invalid(format!("{trimmed} is not a server address: it starts with https://")));
    } else {
        (None, trimmed)
    };
    let rest = rest.trim_end_matches('/');
    let not_an_address = || CoreError::Invalid(format!("{} is not a server address", input.trim()));
    if rest.is_empty() {
        return Err(not_an_address());
    }
    // Parsed once with a scheme, only to find the host; the URL kept is the one typed.
    let parsed = Url::parse(&format!("http://{rest}")).map_err(|_| not_an_address())?;
    let reach = match parsed.host() {
        Some(host) => reach(&host),
        None => return Err(not_an_address()),
    };
    let scheme = match explicit {
        Some(scheme) => scheme,
        None if reach == Reach::Loopback => "http",
        None => "https",
    };
    if scheme == "http" && reach == Reach::Public {
        return Err(CoreError::Invalid(format!(
            "http:// would send your password and messages to {} unencrypted: use https://{rest} \
             (plain http is only for this computer and private networks)",
            parsed.host_str().unwrap_or(rest)
        )));
    }
    Ok(ServerAddress { url: format!("{scheme}://{rest}"), encrypted: scheme == "https" })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// This computer.
    Loopback,
    /// A private network: RFC 1918, link-local, carrier-grade NAT (VPNs such as Tailscale), IPv6
    /// unique-local, and names that only resolve inside one (`.local`, `.lan`, `.internal`,
    /// `.home.arpa`, and single-label names such as `inbox`).
    Private,
    Public,
}

fn reach(host: &url::Host<&str>) -> Reach {
    match host {
        url::Host::Ipv4(ip) => reach_v4(*ip),
        url::Host::Ipv6(ip) => reach_v6(*ip),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Reach::Loopback
            } else if !name.contains('.')
                || [".local", ".lan", ".internal", ".home.arpa"].iter().any(|suffix| name.ends_with(suffix))
            {
                Reach::Private
            } else {
                Reach::Public
            }
        }
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Reach::Loopback
    } else if ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b)) {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return reach_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Reach::Loopback
    } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 {
        Reach::Private
    } else {
        Reach::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &str) -> (String, bool) {
        let a = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (a.url, a.encrypted)
    }

    fn refused(input: &str) -> String {
        parse(input).expect_err(input).to_string()
    }

    #[test]
    fn a_bare_host_name_means_https() {
        assert_eq!(url("inbox.example.com"), ("https://inbox.example.com".into(), true));
        assert_eq!(url(" inbox.example.com:8443/ "), ("https://inbox.example.com:8443".into(), true));
        assert_eq!(url("example.com/handoff/"), ("https://example.com/handoff".into(), true));
        // A private address typed bare still gets TLS: plain http is never chosen silently off this computer.
        assert_eq!(url("192.168.1.20:8750"), ("https://192.168.1.20:8750".into(), true));
    }

    #[test]
    fn a_bare_loopback_address_means_http() {
        assert_eq!(url("localhost:8750/"), ("http://localhost:8750".into(), false));
        assert_eq!(url("127.0.0.1:8750"), ("http://127.0.0.1:8750".into(), false));
        assert_eq!(url("[::1]:8750"), ("http://[::1]:8750".into(), false));
    }

    #[test]
    fn https_is_kept_as_typed() {
        assert_eq!(url(" https://inbox.example.com "), ("https://inbox.example.com".into(), true));
        assert_eq!(url("HTTPS://Inbox.example.com"), ("https://Inbox.example.com".into(), true));
        assert_eq!(url("https://localhost:9443"), ("https://localhost:9443".into(), true));
    }

    #[test]
    fn plain_http_only_for_this_computer_and_private_networks() {
        for ok in [
            "http://127.0.0.1:8750",
            "http://localhost:8750",
            "http://10.1.2.3:8750",
            "http://172.16.0.9",
            "http://192.168.0.5:8750",
            "http://169.254.10.10",
            "http://100.100.1.2:8750",
            "http://[fd12:3456::1]:8750",
            "http://[fe80::1]",
            "http://inbox:8750",
            "http://handoff.local",
            "http://handoff.office.lan",
            "http://handoff.corp.internal",
            "http://handoff.home.arpa",
        ] {
            assert_eq!(url(ok), (ok.to_string(), false), "{ok}");
        }
        for public in ["http://inbox.example.com", "http://8.8.8.8:8750", "http://172.32.0.1", "http://[2001:db8::1]"] {
            let e = refused(public);
            assert!(e.contains("unencrypted") && e.contains("use https://"), "{public}: {e}");
        }
        assert!(refused("http://inbox.example.com:8750").contains("https://inbox.example.com:8750"));
    }

    #[test]
    fn nonsense_is_refused_with_the_reason() {
        assert!(refused("").contains("enter the server's address"));
        assert!(refused("http://").contains("not a server address"));
        assert!(refused("https:///").contains("not a server address"));
        assert!(refused("ws://example.com").contains("https://"));
        assert!(refused("exa mple.com").contains("not a server address"));
    }
}
