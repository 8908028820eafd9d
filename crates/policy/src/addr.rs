//! Address helpers shared by zone lookup and ACL matching: the canonical form
//! of a client address, and prefix masks as plain integers so that matching
//! is a mask and a compare.

use std::net::IpAddr;

/// Dual-stack sockets report IPv4 clients as `::ffff:a.b.c.d`; zones and
/// ACLs treat them as the IPv4 clients they are, so every lookup starts here.
/// Only the mapped form is converted: the deprecated "compatible" form
/// `::a.b.c.d` is a real IPv6 address and stays one.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

/// Whether an address stands for the public Internet rather than a private
/// network: not RFC 1918, shared (100.64/10), loopback, link-local,
/// unspecified or unique-local. Documentation ranges count as public, since
/// examples use them in place of real public addresses. IPv4-mapped IPv6
/// addresses are judged as IPv4.
pub fn is_public(addr: IpAddr) -> bool {
    match canonical(addr) {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            !(a.is_loopback() || a.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Network mask for an IPv4 prefix of `len` bits (`len` <= 32).
pub(crate) fn v4_mask(len: u8) -> u32 {
    // `checked_shl` because shifting a u32 by 32 (len 0) is an overflow.
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// Network mask for an IPv6 prefix of `len` bits (`len` <= 128).
pub(crate) fn v6_mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn public_addresses_are_not_private_shared_loopback_link_local_or_unique_local() {
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "fd12:3456::1",
            "fe80::1",
            "::1",
            "::ffff:10.1.2.3",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "198.51.100.7",
            "203.0.113.10",
            "40.92.1.1",
            "2001:db8:100::1",
            "2a01:111:f400::1",
            "::ffff:203.0.113.10",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    use super::*;

    #[test]
    fn masks_cover_both_ends() {
        assert_eq!(v4_mask(0), 0);
        assert_eq!(v4_mask(8), 0xff00_0000);
        assert_eq!(v4_mask(32), u32::MAX);
        assert_eq!(v6_mask(0), 0);
        assert_eq!(v6_mask(1), 1 << 127);
        assert_eq!(v6_mask(128), u128::MAX);
    }

    #[test]
    fn only_the_mapped_form_becomes_v4() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let compatible: IpAddr = "::10.1.2.3".parse().unwrap();
        assert_eq!(canonical(mapped), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(canonical(compatible), compatible);
    }
}
