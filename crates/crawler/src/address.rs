//! Which addresses a source may reach: the server-side request forgery guard.
//!
//! A feed URL is user input, and so is every redirect a feed server answers with. Left
//! alone, `http://169.254.169.254/latest/meta-data/` or a redirect to
//! `http://127.0.0.1:7700/api/v1/...` would make the daemon fetch from the machine it
//! runs on or its private network, and index the answer. Unless a source opts in
//! (`allow_private: true`), a request may only reach public addresses:
//!
//! - [`PublicResolver`] resolves host names and keeps only public addresses, so the
//!   check holds after DNS resolution (a public name pointing at 10.0.0.1 is refused),
//!   on the first request and on every redirect, since each connection resolves again;
//! - [`check_url`] refuses URLs whose host is an address literal (`http://[::1]/`),
//!   which never reach a resolver; the redirect policy runs it on every hop.
//!
//! Cost: one filter over the resolved addresses per new connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// A request refused because it would reach a private, loopback, link-local or
/// otherwise non-public address.
#[derive(Debug)]
pub struct PrivateAddress {
    /// The host as written in the URL.
    pub host: String,
    /// The address it is or resolved to.
    pub ip: IpAddr,
}

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<IpAddr>() {
            Ok(_) => write!(f, "{host} is a non-public address")?,
            Err(_) => write!(f, "{host} is a non-public address ({})", self.ip)?,
        }
        f.write_str(": refused, set allow_private: true on the source to allow it")
    }
}

impl std::error::Error for PrivateAddress {}

/// Returns whether `ip` is an address on the public internet: not loopback, private
/// (RFC 1918, unique local), link-local (which holds cloud metadata services), shared
/// (carrier-grade NAT), unspecified, broadcast, multicast or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        || first == 0x0064 && ip.segments()[1] == 0xff9b)
}

/// Refuses `url` when its host is an address literal that is not public.
pub fn check_url(url: &Url) -> Result<(), PrivateAddress> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(PrivateAddress {
            host: url.host_str().unwrap_or_default().to_owned(),
            ip,
        })
    }
}

/// The system resolver, keeping only public addresses; a name that resolves to none is
/// refused with [`PrivateAddress`].
#[derive(Debug, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            match (public.is_empty(), resolved.first()) {
                (true, Some(first)) => Err(Box::new(PrivateAddress {
                    host,
                    ip: first.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert!(!is_public(ip), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert!(is_public(ip), "{ip}");
        }
    }

    #[test]
    fn address_literals_in_urls_are_checked() {
        let refused = |u: &str| check_url(&Url::parse(u).expect("a URL")).is_err();
        assert!(refused("http://127.0.0.1:7700/api/v1/search"));
        assert!(refused("http://[::1]/feed"));
        assert!(refused("http://169.254.169.254/latest/meta-data/"));
        assert!(
            refused("http://0x7f000001/feed"),
            "hex forms are parsed as addresses"
        );
        assert!(!refused("https://example.org/feed.xml"));
        assert!(!refused("https://93.184.216.34/feed.xml"));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let name: Name = "localhost".parse().expect("a name");
        let err = PublicResolver
            .resolve(name)
            .await
            .err()
            .expect("localhost is refused");
        assert!(err.to_string().contains("allow_private"), "{err}");
    }
}
