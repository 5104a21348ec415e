//! The client's address, for sign-in throttling. Anyone can send
//! `X-Forwarded-For`, so it is believed only as far as it was written by
//! proxies listed in `system.trusted-proxies`: starting from the peer, each
//! hop that is a trusted proxy hands over to the address it reported, and
//! the first hop that is not one is the client.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use faultline_config::IpNet;

/// The client's address for `req`, or `None` without a peer address.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    // Several X-Forwarded-For lines are one list, in order.
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(resolve(peer, &forwarded.join(","), trusted_proxies))
}

/// Walks `forwarded_for` from the right (the hop nearest to us) while the
/// address at hand is a trusted proxy. An entry that is not an address
/// ends the walk at the proxy that passed it on; so does the left end of
/// the list, when every hop was trusted.
fn resolve(peer: IpAddr, forwarded_for: &str, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |addr: IpAddr| trusted_proxies.iter().any(|net| net.contains(addr));
    let mut client = peer.to_canonical();
    let mut hops = forwarded_for
        .rsplit(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty());
    while trusted(client) {
        match hops.next().and_then(parse_hop) {
            Some(previous) => client = previous,
            None => break,
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, or either with a port (`[::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        assert_eq!(
            resolve(ip("198.51.100.4"), "203.0.113.9", &[]),
            ip("198.51.100.4")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), "10.9.9.9, 1.2.3.4", &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("198.51.100.4"), "10.0.0.7", &trusted),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = nets(&["127.0.0.1"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), "203.0.113.9", &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), "2001:db8::5", &trusted),
            ip("2001:db8::5")
        );
        // No header: the proxy itself is all we know.
        assert_eq!(resolve(ip("127.0.0.1"), "", &trusted), ip("127.0.0.1"));
    }

    #[test]
    fn entries_left_of_the_first_untrusted_hop_are_the_clients_own_words() {
        let trusted = nets(&["10.0.0.0/8", "172.16.0.0/12"]);
        // The client sent "X-Forwarded-For: 1.1.1.1"; two proxies appended.
        assert_eq!(
            resolve(ip("10.0.0.2"), "1.1.1.1, 203.0.113.9, 172.17.0.3", &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), "1.1.1.1,[2001:db8::1]:5000", &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn garbage_stops_at_the_proxy_that_passed_it_on() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), "1.1.1.1, unknown", &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), "1.1.1.1, 10.0.0.9, <x>", &trusted),
            ip("10.0.0.2")
        );
        // Every hop trusted: the furthest one known.
        assert_eq!(
            resolve(ip("10.0.0.2"), "10.0.0.3, 10.0.0.4", &trusted),
            ip("10.0.0.3")
        );
    }
}
