//! Zone lookup: which zone a client's source address belongs to.
//!
//! A [`ZoneTable`] is compiled once from the plan's zone prefixes and then
//! answers that question for every accepted connection (the *accept* phase),
//! so lookups neither allocate nor scan the prefix list.
//!
//! Matching rules:
//! - the longest matching prefix wins;
//! - an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, which is how a dual-stack
//!   socket reports an IPv4 client) is looked up as the IPv4 address
//!   `a.b.c.d`;
//! - after that mapping a prefix only matches addresses of its own family, so
//!   an IPv6 entry such as `::/0` never catches IPv4 clients, and an IPv6
//!   entry inside `::ffff:0:0/96` never matches anything (write the IPv4
//!   prefix instead);
//! - an address that no prefix contains falls into the table's default zone.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::addr::{canonical, v4_mask, v6_mask};

#[cfg(test)]
mod tests;

/// Identifies a zone. The number is assigned by the plan compiler; this crate
/// gives it no meaning beyond identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneId(pub u16);

/// A compiled longest-prefix-match table from source address to [`ZoneId`].
///
/// # Representation
///
/// One hash map per distinct prefix length, kept separately for IPv4 and
/// IPv6 and probed from the longest length to the shortest; the first hit is
/// the longest match. We chose this over a binary trie because real zone
/// tables use a handful of distinct lengths (/8, /16, /24, /32, /48, /64...),
/// so a lookup is a few mask-and-probe steps over small contiguous maps,
/// where a trie would chase up to 32 (or 128) pointers per lookup. The cost
/// grows with the number of *distinct lengths*, never with the number of
/// prefixes.
///
/// # Duplicates
///
/// Prefixes are truncated (host bits cleared) before insertion, so
/// `10.1.2.3/8` is `10.0.0.0/8`. If the same truncated prefix appears more
/// than once, the **first** entry wins and later ones are ignored. The model
/// reports duplicates as a configuration error before compiling a table, so
/// this rule only keeps the table deterministic for callers that skip
/// validation.
#[derive(Debug, Clone)]
pub struct ZoneTable {
    default: ZoneId,
    v4: FamilyTable<u32>,
    v6: FamilyTable<u128>,
    len: usize,
}

impl ZoneTable {
    /// Compiles a table. `default` is the zone of addresses no prefix
    /// contains. See the type docs for how duplicates are resolved.
    pub fn new(default: ZoneId, entries: impl IntoIterator<Item = (IpNet, ZoneId)>) -> ZoneTable {
        let mut v4 = FamilyTable::default();
        let mut v6 = FamilyTable::default();
        let mut len = 0;
        for (net, zone) in entries {
            let inserted = match net {
                IpNet::V4(n) => v4.insert(u32::from(n.addr()), n.prefix_len(), zone),
                IpNet::V6(n) => v6.insert(u128::from(n.addr()), n.prefix_len(), zone),
            };
            len += usize::from(inserted);
        }
        v4.finish();
        v6.finish();
        ZoneTable { default, v4, v6, len }
    }

    /// The zone of `addr`: the zone of the longest prefix containing it, or
    /// the default zone. IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn lookup(&self, addr: IpAddr) -> ZoneId {
        let hit = match canonical(addr) {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)).map(|(_, _, zone)| zone),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)).map(|(_, _, zone)| zone),
        };
        hit.unwrap_or(self.default)
    }

    /// The longest prefix containing `addr` (truncated, as stored) and its
    /// zone, or `None` when `addr` falls into the default zone. Used by
    /// `gatehouse explain` to say *why* an address got its zone.
    pub fn lookup_prefix(&self, addr: IpAddr) -> Option<(IpNet, ZoneId)> {
        match canonical(addr) {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)).map(|(len, key, zone)| {
                let net = Ipv4Net::new_assert(Ipv4Addr::from(key), len);
                (IpNet::V4(net), zone)
            }),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)).map(|(len, key, zone)| {
                let net = Ipv6Net::new_assert(Ipv6Addr::from(key), len);
                (IpNet::V6(net), zone)
            }),
        }
    }

    /// The zone of addresses that no prefix contains.
    pub fn default_zone(&self) -> ZoneId {
        self.default
    }

    /// Number of distinct (truncated) prefixes in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table has no prefixes and every address is in the
    /// default zone.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Address bits of one family as an integer, so the IPv4 and IPv6 tables
/// share one implementation.
trait Bits: Copy + Eq + Hash + std::fmt::Debug {
    fn mask(len: u8) -> Self;
    fn and(self, other: Self) -> Self;
}

impl Bits for u32 {
    fn mask(len: u8) -> Self {
        v4_mask(len)
    }
    fn and(self, other: Self) -> Self {
        self & other
    }
}

impl Bits for u128 {
    fn mask(len: u8) -> Self {
        v6_mask(len)
    }
    fn and(self, other: Self) -> Self {
        self & other
    }
}

/// All prefixes of one family that share one length.
#[derive(Debug, Clone)]
struct Level<B> {
    len: u8,
    mask: B,
    nets: HashMap<B, ZoneId, BuildHasherDefault<KeyHasher>>,
}

/// The per-length maps of one family, longest length first once finished.
#[derive(Debug, Clone)]
struct FamilyTable<B> {
    levels: Vec<Level<B>>,
}

impl<B> Default for FamilyTable<B> {
    fn default() -> Self {
        FamilyTable { levels: Vec::new() }
    }
}

impl<B: Bits> FamilyTable<B> {
    /// Inserts `bits/len` (truncating it); returns false if that prefix was
    /// already present, in which case the earlier zone is kept.
    fn insert(&mut self, bits: B, len: u8, zone: ZoneId) -> bool {
        let index = match self.levels.iter().position(|l| l.len == len) {
            Some(i) => i,
            None => {
                self.levels.push(Level {
                    len,
                    mask: B::mask(len),
                    nets: HashMap::default(),
                });
                self.levels.len() - 1
            }
        };
        let level = &mut self.levels[index];
        let key = bits.and(level.mask);
        match level.nets.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(zone);
                true
            }
        }
    }

    /// Orders levels so that the first hit during lookup is the longest.
    fn finish(&mut self) {
        self.levels.sort_unstable_by_key(|l| Reverse(l.len));
        for level in &mut self.levels {
            level.nets.shrink_to_fit();
        }
    }

    /// Returns `(prefix length, network bits, zone)` of the longest match.
    fn lookup(&self, bits: B) -> Option<(u8, B, ZoneId)> {
        self.levels.iter().find_map(|level| {
            let key = bits.and(level.mask);
            level.nets.get(&key).map(|&zone| (level.len, key, zone))
        })
    }
}

/// Hasher for prefix keys.
///
/// The std default (SipHash with random keys) exists to stop attackers from
/// *inserting* colliding keys. Our keys come only from the trusted
/// configuration; a client only chooses what we probe for, which cannot
/// lengthen any chain. So a fixed, fast mixer is enough. It must still mix
/// well: truncated prefixes have all their low bits zero, and an identity or
/// plain multiplicative hash would pile them into the same buckets.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl KeyHasher {
    /// The MurmurHash3 64-bit finalizer: every input bit affects every
    /// output bit.
    fn mix(mut x: u64) -> u64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by u32/u128 keys, but a Hasher must accept any input.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = Self::mix(self.0.rotate_left(5) ^ n);
    }

    fn write_u128(&mut self, n: u128) {
        // Truncating casts on purpose: the two halves of the key.
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
}
