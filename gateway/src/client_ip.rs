//! Which IP a request comes from, for the per-client rate limits.
//!
//! The TCP peer, unless the peer is one of the reverse proxies the operator named
//! (`--trusted-proxies`): then the client is read from `X-Forwarded-For`, or from the
//! standard `Forwarded` header (RFC 7239) with `--forwarded-header forwarded`. Only the
//! header the proxies write is read: a header they pass through untouched is the
//! client's own. Each proxy appends the address it received the request from, so the
//! header is read from the right, skipping trusted proxies; the first address that is
//! not one is the client.
//! Everything left of it was written by that client and proves nothing, so a client
//! cannot choose its own IP by sending the header, and from an untrusted peer the
//! header is not read at all.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// An IP address or a CIDR block, as `--trusted-proxies` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8")]
pub struct IpNetError(String);

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let error = || IpNetError(s.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| error())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| error())?,
            None => max,
        };
        if prefix > max {
            return Err(error());
        }
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: 198.51.100.7, 10.0.0.3`: what most proxies write.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=198.51.100.7, for="[2001:db8::7]:443"` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    /// The hops one value of the header lists, in order.
    fn hops(self, value: &str) -> impl Iterator<Item = Option<IpAddr>> + '_ {
        value.split(',').map(move |entry| match self {
            ForwardedHeader::XForwardedFor => hop(entry),
            ForwardedHeader::Forwarded => forwarded_for(entry),
        })
    }
}

/// The proxies whose forwarding header is believed, and which header that is. No
/// proxies by default: the headers are then ignored. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self {
            nets: nets.into(),
            header,
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(ip))
    }

    /// The client of a request that `peer` sent with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Several headers are one list, in order (RFC 9110, 5.3).
        let mut hops = Vec::new();
        for value in headers.get_all(self.header.name()) {
            let Ok(value) = value.to_str() else {
                // Nothing in it can be read, so nothing left of it can be trusted.
                hops.push(None);
                continue;
            };
            hops.extend(self.header.hops(value));
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // A hop that cannot be read was written by a trusted proxy (everything
            // right of it was trusted), which is misconfigured: the last hop read is
            // the best-known client, and no address further left is believed.
            let Some(ip) = hop else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        // Every hop is a proxy: the request started inside the proxies' network.
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port as some proxies
/// write it (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    IpAddr::from_str(entry)
        .ok()
        .or_else(|| SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.1;proto=https`), as an
/// address: `192.0.2.1`, `"192.0.2.1:443"`, `"[2001:db8::1]"` or `"[2001:db8::1]:443"`.
/// `unknown`, an obfuscated node (`_hidden`), an element without `for=` or anything
/// else is no address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let node = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let node = node
        .strip_prefix('"')
        .and_then(|quoted| quoted.strip_suffix('"'))
        .unwrap_or(node);
    let host = match node.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => node.split_once(':').map_or(node, |(host, _port)| host),
    };
    IpAddr::from_str(host).ok().map(|ip| ip.to_canonical())
}

/// The connecting client's IP, when the server was started with connection info
/// (`into_make_service_with_connect_info`), after [`TrustedProxies::client`]; unknown
/// in unit tests that call a router directly.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        let proxies = TrustedProxies::from_ref(state);
        Ok(ClientIp(Some(proxies.client(peer.ip(), &parts.headers))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        proxies_writing(nets, ForwardedHeader::XForwardedFor)
    }

    fn proxies_writing(nets: &[&str], header: ForwardedHeader) -> TrustedProxies {
        let nets = nets.iter().map(|n| n.parse().expect("a net")).collect();
        TrustedProxies::new(nets, header)
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name, HeaderValue::from_str(value).expect("a header value"));
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP")
    }

    fn forwarded(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn nets_parse_and_match() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped peers");
        let one: IpNet = " 192.0.2.7 ".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "proxy.local",
            "10.0.0.0/x",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.1"]);
        let headers = forwarded(&[b"198.51.100.1"]);
        assert_eq!(
            trusted.client(ip("203.0.113.5"), &headers),
            ip("203.0.113.5")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &headers),
            ip("10.0.0.1"),
            "no proxies trusted by default"
        );
    }

    #[test]
    fn a_trusted_chain_is_read_from_the_right() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let headers = forwarded(&[b"198.51.100.7, 192.0.2.1", b"10.1.1.1"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &headers), ip("198.51.100.7"));
        let with_ports = forwarded(&[b"[2001:db8::5]:4711, 10.0.0.9:80"]);
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &with_ports),
            ip("2001:db8::5")
        );
        // No header: the proxy itself is the client.
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        // Only proxies: the left-most is where the request started.
        let inside = forwarded(&[b"10.9.9.9, 10.0.0.3"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &inside), ip("10.9.9.9"));
    }

    #[test]
    fn spoofed_entries_left_of_the_client_are_ignored() {
        let trusted = proxies(&["10.0.0.1"]);
        // The client sent "1.1.1.1, 10.0.0.1" itself; the proxy appended its address.
        let headers = forwarded(&[b"1.1.1.1, 10.0.0.1, 203.0.113.5"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.5"));
        let garbage_left = forwarded(&[b"not an ip, 203.0.113.5"]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &garbage_left),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_malformed_hop_stops_the_reading_at_the_last_hop_read() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for value in [
            &b"203.0.113.5, unknown"[..],
            b"203.0.113.5, ",
            b"203.0.113.5,,",
            b"",
            b"\xff\xfe",
        ] {
            let headers = forwarded(&[value]);
            assert_eq!(
                trusted.client(ip("10.0.0.1"), &headers),
                ip("10.0.0.1"),
                "{value:?}"
            );
        }
        let headers = forwarded(&[b"203.0.113.5, nonsense, 10.0.0.7"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.0.0.7"));
    }

    #[test]
    fn forwarded_elements_name_their_node() {
        for (element, expected) in [
            ("for=192.0.2.60", Some("192.0.2.60")),
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                Some("192.0.2.60"),
            ),
            ("proto=https; FOR=\"192.0.2.60:8080\"", Some("192.0.2.60")),
            ("for=\"[2001:db8:cafe::17]\"", Some("2001:db8:cafe::17")),
            (
                "for=\"[2001:db8:cafe::17]:4711\"",
                Some("2001:db8:cafe::17"),
            ),
            (" for = 198.51.100.17 ", Some("198.51.100.17")),
            ("for=unknown", None),
            ("for=_hidden", None),
            ("for=\"_gazonk\"", None),
            ("by=203.0.113.43", None),
            ("for=2001:db8::1", None),
            ("", None),
        ] {
            assert_eq!(forwarded_for(element), expected.map(ip), "{element:?}");
        }
    }

    #[test]
    fn with_forwarded_only_that_header_is_read() {
        let trusted = proxies_writing(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let chain = headers(
            "forwarded",
            &[
                "for=1.1.1.1, for=198.51.100.7",
                "for=\"10.0.0.9:80\";proto=https",
            ],
        );
        assert_eq!(trusted.client(ip("10.0.0.2"), &chain), ip("198.51.100.7"));
        // The proxies write `Forwarded`: an X-Forwarded-For is the client's own.
        let other = headers("x-forwarded-for", &["203.0.113.5"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &other), ip("10.0.0.2"));
        // And the other way round.
        let by_xff = proxies(&["10.0.0.0/8"]);
        assert_eq!(by_xff.client(ip("10.0.0.2"), &chain), ip("10.0.0.2"));
        // A hidden node right of the client stops the reading there.
        let hidden = headers("forwarded", &["for=198.51.100.7, for=_proxy, for=10.0.0.9"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &hidden), ip("10.0.0.9"));
    }
}
