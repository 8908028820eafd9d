//! Response rate limiting (RRL) for UDP: a token bucket per client prefix,
//! so that the server cannot be used to amplify a flood of spoofed queries
//! at a victim. Over the limit, every `slip`-th response goes out as an
//! empty TC=1 answer (a real client then retries over TCP, which is never
//! limited) and the rest are dropped.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use ipnet::IpNet;

use crate::answer::NameHasher;
use crate::config::RrlConfig;

/// What to do with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RrlVerdict {
    Pass,
    /// Send an empty truncated answer instead.
    Slip,
    Drop,
}

const SHARDS: usize = 64;
/// Buckets per shard before idle ones are swept.
const SHARD_CAPACITY: usize = 4096;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    over: u32,
}

type Key = (bool, u128);
type Shard = Mutex<HashMap<Key, Bucket, BuildHasherDefault<NameHasher>>>;

/// One limiter per server; shared by every UDP worker.
pub struct RateLimiter {
    rate: f64,
    slip: u32,
    v4_bits: u8,
    v6_bits: u8,
    exempt: Vec<IpNet>,
    shards: Box<[Shard]>,
}

impl RateLimiter {
    pub fn new(cfg: &RrlConfig) -> RateLimiter {
        RateLimiter {
            rate: f64::from(cfg.responses_per_second),
            slip: cfg.slip,
            v4_bits: cfg.ipv4_prefix.min(32),
            v6_bits: cfg.ipv6_prefix.min(128),
            exempt: cfg.exempt.clone(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Decides one response to `src` at `now`.
    pub fn check(&self, src: IpAddr, now: Instant) -> RrlVerdict {
        if !self.enabled() {
            return RrlVerdict::Pass;
        }
        let src = src.to_canonical();
        if self.exempt.iter().any(|n| n.contains(&src)) {
            return RrlVerdict::Pass;
        }
        let key: Key = match src {
            IpAddr::V4(a) => (
                false,
                u128::from(u32::from(a) & u32::MAX.checked_shl(32 - u32::from(self.v4_bits)).unwrap_or(0)),
            ),
            IpAddr::V6(a) => (
                true,
                u128::from(a) & u128::MAX.checked_shl(128 - u32::from(self.v6_bits)).unwrap_or(0),
            ),
        };
        let shard = BuildHasherDefault::<NameHasher>::default().hash_one(key) as usize % SHARDS;
        let mut map = self.shards[shard].lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= SHARD_CAPACITY && !map.contains_key(&key) {
            // A bucket idle for a second is full again: forgetting it
            // changes nothing.
            map.retain(|_, b| now.saturating_duration_since(b.last).as_secs_f64() < 1.0);
            if map.len() >= SHARD_CAPACITY {
                map.clear();
            }
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.rate,
            last: now,
            over: 0,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.over = 0;
            return RrlVerdict::Pass;
        }
        b.over = b.over.wrapping_add(1);
        if b.over.checked_rem(self.slip) == Some(0) {
            RrlVerdict::Slip
        } else {
            RrlVerdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rate: u32, slip: u32) -> RateLimiter {
        RateLimiter::new(&RrlConfig {
            responses_per_second: rate,
            slip,
            ..RrlConfig::default()
        })
    }

    #[test]
    fn a_prefix_gets_its_burst_then_slips_and_drops() {
        let rrl = limiter(10, 2);
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.200".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(rrl.check(a, t), RrlVerdict::Pass);
        }
        // Same /24: shares the bucket.
        assert_eq!(rrl.check(b, t), RrlVerdict::Drop);
        assert_eq!(rrl.check(a, t), RrlVerdict::Slip);
        // Another /24 is unaffected.
        assert_eq!(rrl.check("192.0.3.1".parse().unwrap(), t), RrlVerdict::Pass);
        // Tokens come back with time.
        assert_eq!(rrl.check(a, t + Duration::from_millis(250)), RrlVerdict::Pass);
    }

    #[test]
    fn zero_rate_and_exempt_prefixes_are_never_limited() {
        let off = limiter(0, 2);
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| off.check(a, t) == RrlVerdict::Pass));
        let ex = RateLimiter::new(&RrlConfig {
            responses_per_second: 1,
            exempt: vec!["192.0.2.0/24".parse().unwrap()],
            ..RrlConfig::default()
        });
        assert!((0..100).all(|_| ex.check(a, t) == RrlVerdict::Pass));
    }
}
