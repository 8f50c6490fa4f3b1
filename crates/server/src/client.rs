//! Who is asking: the client address that rate limits count by. `X-Forwarded-For` is believed
//! only when the connection comes from a trusted proxy (`MATCHWELL_TRUSTED_PROXIES`), and then
//! only up to the first address that is not itself a trusted proxy, read from the right: the
//! entries to its left were written by the client and prove nothing.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client of `request`, as text for rate-limit keys: its address, or for IPv6 its /64
/// network (one subscriber usually holds a whole /64, and could otherwise take a new address
/// per request).
pub fn address(request: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = request.peer_addr().map(|a| a.ip().to_canonical()) else { return "unknown".to_owned() };
    let forwarded: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    match resolve(peer, &forwarded, trusted) {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
        v4 => v4.to_string(),
    }
}

fn resolve(peer: IpAddr, forwarded: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        if !trusted.contains(&client) {
            break;
        }
        match entry.parse::<IpAddr>() {
            Ok(address) => client = address.to_canonical(),
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        assert_eq!(resolve(ip("203.0.113.9"), &["198.51.100.7"], &trusted), ip("203.0.113.9"), "not from a proxy");
        assert_eq!(resolve(proxy, &["198.51.100.7"], &trusted), ip("198.51.100.7"));
        assert_eq!(resolve(proxy, &["1.2.3.4", "198.51.100.7"], &trusted), ip("198.51.100.7"), "a forged left part");
        assert_eq!(resolve(proxy, &["198.51.100.7", "10.0.0.2"], &trusted), ip("198.51.100.7"), "two proxies");
        assert_eq!(resolve(proxy, &["garbage"], &trusted), proxy);
        assert_eq!(resolve(proxy, &[], &trusted), proxy);
        assert_eq!(resolve(proxy, &["198.51.100.7"], &[]), proxy, "no proxies configured");
        assert_eq!(resolve(ip("::ffff:10.0.0.1").to_canonical(), &["198.51.100.7"], &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        use actix_web::test::TestRequest;
        let one = TestRequest::default().peer_addr("[2001:db8:1:2::5]:443".parse().expect("socket")).to_http_request();
        let other =
            TestRequest::default().peer_addr("[2001:db8:1:2:ffff::9]:443".parse().expect("socket")).to_http_request();
        assert_eq!(address(&one, &[]), "2001:db8:1:2::/64");
        assert_eq!(address(&one, &[]), address(&other, &[]));
        let v4 = TestRequest::default().peer_addr("198.51.100.7:443".parse().expect("socket")).to_http_request();
        assert_eq!(address(&v4, &[]), "198.51.100.7");
    }
}
