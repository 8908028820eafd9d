//! Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
//! Software Network Load Balancer", NSDI 2016, section 3.4), with weights.
//!
//! Each member walks its own permutation of the table's slots (an offset
//! and a skip derived from its name) and, turn by turn, claims the next
//! slot it prefers that is still free; a member of weight w takes w turns
//! per round. Because the permutations depend only on names, removing a
//! member frees its slots and leaves most other slots where they were:
//! only about that member's share of keys moves.

/// A prime well above 100 × the members of any real pool, as the paper
/// advises, so that shares are even (within about 1%).
const SIZE: usize = 65_537;

#[derive(Debug)]
pub(crate) struct Maglev {
    /// Slot → member index in the pool; empty when there are no members.
    slots: Vec<u32>,
}

impl Maglev {
    /// `members`: (index in the pool, stable name, weight). Members of
    /// weight 0 get no slots.
    pub(crate) fn new<'a>(members: impl Iterator<Item = (usize, &'a str, u32)>) -> Maglev {
        let members: Vec<(usize, &str, u32)> = members.filter(|m| m.2 > 0).collect();
        if members.is_empty() {
            return Maglev { slots: Vec::new() };
        }
        let g = members.iter().fold(0, |g, m| gcd(g, m.2));
        let turns: Vec<u32> = members.iter().map(|m| m.2 / g).collect();
        let perms: Vec<(u64, u64)> = members
            .iter()
            .map(|(_, name, _)| {
                let offset = fnv1a(name.as_bytes(), 0xcbf2_9ce4_8422_2325) % SIZE as u64;
                let skip = fnv1a(name.as_bytes(), 0x8422_2325_cbf2_9ce4) % (SIZE as u64 - 1) + 1;
                (offset, skip)
            })
            .collect();
        let mut next = vec![0u64; members.len()];
        let mut slots = vec![u32::MAX; SIZE];
        let mut filled = 0;
        'fill: loop {
            for (m, &(offset, skip)) in perms.iter().enumerate() {
                for _ in 0..turns[m] {
                    let mut slot = ((offset + next[m] * skip) % SIZE as u64) as usize;
                    while slots[slot] != u32::MAX {
                        next[m] += 1;
                        slot = ((offset + next[m] * skip) % SIZE as u64) as usize;
                    }
                    slots[slot] = members[m].0 as u32;
                    next[m] += 1;
                    filled += 1;
                    if filled == SIZE {
                        break 'fill;
                    }
                }
            }
        }
        Maglev { slots }
    }

    /// The member for `hash`, or `None` when the table is empty.
    pub(crate) fn lookup(&self, hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        Some(self.slots[(hash % SIZE as u64) as usize] as usize)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// FNV-1a with a chosen basis, giving the two independent hashes Maglev
/// needs from one name.
fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    bytes
        .iter()
        .fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::super::balance::mix;
    use super::*;

    fn table(names: &[(&str, u32)]) -> Maglev {
        Maglev::new(names.iter().enumerate().map(|(i, (n, w))| (i, *n, *w)))
    }

    fn owners(t: &Maglev, names: &[&str], keys: u64) -> Vec<String> {
        (0..keys)
            .map(|k| names[t.lookup(mix(k)).unwrap()].to_string())
            .collect()
    }

    #[test]
    fn shares_are_even_within_two_percent() {
        let t = table(&[("a", 1), ("b", 1), ("c", 1)]);
        let mut counts = [0usize; 3];
        for s in &t.slots {
            counts[*s as usize] += 1;
        }
        for c in counts {
            let share = c as f64 / SIZE as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.02, "share {share}");
        }
    }

    #[test]
    fn weights_scale_shares() {
        let t = table(&[("a", 3), ("b", 1)]);
        let a = t.slots.iter().filter(|&&s| s == 0).count() as f64 / SIZE as f64;
        assert!((a - 0.75).abs() < 0.02, "share of a {a}");
    }

    #[test]
    fn removing_a_member_moves_little_beyond_its_own_clients() {
        let names = ["10.0.0.1:25", "10.0.0.2:25", "10.0.0.3:25", "10.0.0.4:25"];
        let before = owners(&table(&names.map(|n| (n, 1))), &names, 20_000);
        let kept = ["10.0.0.1:25", "10.0.0.2:25", "10.0.0.4:25"];
        let after = owners(&table(&kept.map(|n| (n, 1))), &kept, 20_000);
        let moved_others = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b.as_str() != "10.0.0.3:25" && b != a)
            .count();
        // Maglev trades a little disruption for even shares; the paper
        // measures a few percent at most.
        assert!(
            moved_others < 20_000 * 3 / 100,
            "{moved_others} clients of kept members moved"
        );
    }

    #[test]
    fn zero_weight_members_get_nothing() {
        let t = table(&[("a", 1), ("b", 0)]);
        assert!(t.slots.iter().all(|&s| s == 0));
        assert!(table(&[]).lookup(1).is_none());
    }
}
