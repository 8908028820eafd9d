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
