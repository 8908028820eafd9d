//! One member's state, shared by every plan and connection that uses the
//! member: active-check verdict, passive ejection, draining, the count of
//! open connections, and the member's metrics.
//!
//! The hot path (picking a member) reads only atomics; transitions take a
//! small mutex so that every change of the effective status is logged and
//! published exactly once, with its reason.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use super::{HealthEvent, Hub, MemberKey, Status};
use crate::metrics::MemberMetrics;
use crate::time::{instant_of, now_nanos};

#[derive(Debug)]
pub(crate) struct MemberState {
    pub(crate) key: MemberKey,
    hub: Arc<Hub>,
    /// Open connections (or UDP flows) on this member, across every plan.
    active: AtomicU32,
    /// The active checks' verdict; true when the member is not checked.
    checked_up: AtomicBool,
    draining: AtomicBool,
    /// `now_nanos()` at which a passive ejection ends; 0 when not ejected.
    ejected_until: AtomicU64,
    /// Whether `track` holds connect failures or ejections that a successful
    /// connect would reset: most connects succeed on a member that never
    /// failed, and need neither the lock nor the clock.
    failing: AtomicBool,
    /// The member's address: set once for IP literals, by resolution for
    /// host names. `None` until a name resolves: such a member is not picked.
    resolved: RwLock<Option<IpAddr>>,
    /// Whether `resolved` holds an address, for picks: reading the lock
    /// writes its count, and every worker's picks would contend for it.
    has_ip: AtomicBool,
    track: Mutex<Track>,
    pub(crate) metrics: MemberMetrics,
}

#[derive(Debug)]
struct Track {
    rises: u32,
    falls: u32,
    checked: bool,
    connect_failures: u32,
    ejections: u32,
    /// The effective status last published.
    reported: Status,
}

impl MemberState {
    pub(crate) fn new(key: MemberKey, hub: Arc<Hub>, literal: Option<IpAddr>) -> MemberState {
        MemberState {
            key,
            hub,
            active: AtomicU32::new(0),
            checked_up: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            ejected_until: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            resolved: RwLock::new(literal),
            has_ip: AtomicBool::new(literal.is_some()),
            track: Mutex::new(Track {
                rises: 0,
                falls: 0,
                checked: false,
                connect_failures: 0,
                ejections: 0,
                reported: Status::Up,
            }),
            metrics: MemberMetrics::default(),
        }
    }

    fn status_at(&self, now: u64) -> Status {
        if self.draining.load(Ordering::Relaxed) {
            Status::Draining
        } else if !self.checked_up.load(Ordering::Relaxed) || self.is_ejected(now) {
            Status::Down
        } else {
            Status::Up
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status_at(now_nanos())
    }

    fn is_ejected(&self, now: u64) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && now < until
    }

    /// Up, and with an address to connect to.
    pub(crate) fn available(&self, now: u64) -> bool {
        self.status_at(now) == Status::Up && self.has_ip.load(Ordering::Relaxed)
    }

    /// Not draining and passing its checks, but ejected after connect
    /// failures: the last resort when nothing else is available.
    pub(crate) fn last_resort(&self, now: u64) -> bool {
        !self.draining.load(Ordering::Relaxed)
            && self.checked_up.load(Ordering::Relaxed)
            && self.is_ejected(now)
            && self.has_ip.load(Ordering::Relaxed)
    }

    pub(crate) fn ip(&self) -> Option<IpAddr> {
        *self.resolved.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_ip(&self, ip: Option<IpAddr>) {
        let mut slot = self.resolved.write().unwrap_or_else(PoisonError::into_inner);
        if *slot != ip {
            match ip {
                Some(ip) => tracing::info!(member = %self.key, address = %ip, "member address resolved"),
                None => tracing::warn!(member = %self.key, "member address no longer resolves"),
            }
            *slot = ip;
            self.has_ip.store(ip.is_some(), Ordering::Relaxed);
        }
    }

    pub(crate) fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one more connection unless that would exceed `max`.
    pub(crate) fn try_acquire(&self, max: Option<u32>) -> bool {
        let limit = max.unwrap_or(u32::MAX);
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |a| (a < limit).then_some(a + 1))
            .is_ok()
    }

    /// Counts a connection whatever the limit (one that already exists).
    pub(crate) fn acquire(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn release(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Records one active check result; `rise`/`fall` consecutive results
    /// move the verdict. The first result after start is decisive.
    pub(crate) fn record_check(self: &Arc<Self>, result: Result<(), String>, rise: u32, fall: u32) {
        let mut t = self.track.lock().unwrap_or_else(PoisonError::into_inner);
        let first = !t.checked;
        t.checked = true;
        let up = self.checked_up.load(Ordering::Relaxed);
        match result {
            Ok(()) => {
                t.falls = 0;
                // A member that answers its checks is back: end an ejection early.
                let mut reason = String::from("a check passed; ejection ended");
                if self.ejected_until.swap(0, Ordering::Relaxed) != 0 {
                    t.connect_failures = 0;
                }
                if !up {
                    t.rises += 1;
                    if t.rises >= rise.max(1) {
                        t.rises = 0;
                        self.checked_up.store(true, Ordering::Relaxed);
                        reason = format!("{} passed check{}", rise.max(1), if rise > 1 { "s" } else { "" });
                    }
                }
                self.publish_locked(&mut t, &reason);
            }
            Err(why) => {
                t.rises = 0;
                if up {
                    t.falls += 1;
                    if first || t.falls >= fall.max(1) {
                        let reason = if first {
                            format!("first check failed: {why}")
                        } else {
                            format!("{} failed checks: {why}", t.falls)
                        };
                        t.falls = 0;
                        self.checked_up.store(false, Ordering::Relaxed);
                        self.publish_locked(&mut t, &reason);
                    }
                }
            }
        }
    }

    /// Passive health: a connect to this member failed.
    pub(crate) fn connect_failed(self: &Arc<Self>, why: &str) {
        self.metrics.connect_failures.fetch_add(1, Ordering::Relaxed);
        let passive = self.hub.passive;
        let mut t = self.track.lock().unwrap_or_else(PoisonError::into_inner);
        t.connect_failures += 1;
        self.failing.store(true, Ordering::Relaxed);
        if t.connect_failures < passive.failures.max(1) {
            return;
        }
        t.connect_failures = 0;
        let now = now_nanos();
        if self.is_ejected(now) {
            return; // a burst of failures from connects already in flight
        }
        let factor = 1u32 << t.ejections.min(16);
        let ejection = passive.base_ejection.saturating_mul(factor).min(passive.max_ejection);
        t.ejections = t.ejections.saturating_add(1);
        let until = now + ejection.as_nanos() as u64;
        self.ejected_until.store(until, Ordering::Relaxed);
        let reason = format!("ejected for {} after a failed connect: {why}", fmt_duration(ejection));
        self.publish_locked(&mut t, &reason);
        drop(t);
        // Publish the end of the ejection when it comes, for DNS watchers.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let me = Arc::clone(self);
            rt.spawn(async move {
                tokio::time::sleep_until(instant_of(until).into()).await;
                me.refresh("ejection ended");
            });
        }
    }

    pub(crate) fn connect_succeeded(&self) {
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let mut t = self.track.lock().unwrap_or_else(PoisonError::into_inner);
        t.connect_failures = 0;
        if !self.is_ejected(now_nanos()) {
            t.ejections = 0;
        }
        // An ejection still running keeps its count until a success after it.
        self.failing.store(t.ejections > 0, Ordering::Relaxed);
    }

    pub(crate) fn set_draining(self: &Arc<Self>, draining: bool) {
        let mut t = self.track.lock().unwrap_or_else(PoisonError::into_inner);
        self.draining.store(draining, Ordering::Relaxed);
        let reason = if draining {
            "set draining by an operator"
        } else {
            "draining ended by an operator"
        };
        self.publish_locked(&mut t, reason);
    }

    /// Re-evaluates the effective status and publishes it if it changed.
    pub(crate) fn refresh(&self, reason: &str) {
        let mut t = self.track.lock().unwrap_or_else(PoisonError::into_inner);
        self.publish_locked(&mut t, reason);
    }

    fn publish_locked(&self, t: &mut Track, reason: &str) {
        let now = self.status();
        if now == t.reported {
            return;
        }
        let from = std::mem::replace(&mut t.reported, now);
        match now {
            Status::Down => tracing::warn!(member = %self.key, %from, to = %now, reason, "member state changed"),
            _ => tracing::info!(member = %self.key, %from, to = %now, reason, "member state changed"),
        }
        self.hub.publish(HealthEvent {
            member: self.key.clone(),
            from,
            to: now,
            reason: reason.to_string(),
        });
    }
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Health, PassiveHealth};

    fn member(failures: u32) -> Arc<MemberState> {
        let health = Health::new(PassiveHealth {
            failures,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(300),
        });
        let key = MemberKey {
            pool: "web".into(),
            member: "10.0.0.1:80".into(),
        };
        Arc::new(MemberState::new(key, health.hub.clone(), None))
    }

    /// How long the running ejection has left, in whole seconds.
    fn ejected_for(m: &MemberState) -> u64 {
        let until = m.ejected_until.load(Ordering::Relaxed);
        Duration::from_nanos(until.saturating_sub(now_nanos()))
            .as_secs_f64()
            .round() as u64
    }

    fn end_ejection(m: &MemberState) {
        m.ejected_until.store(0, Ordering::Relaxed);
    }

    #[test]
    fn a_member_is_available_only_while_it_has_an_address() {
        let m = member(3);
        let now = now_nanos();
        assert!(!m.available(now), "a name that has not resolved yet");
        m.set_ip(Some("10.0.0.1".parse().unwrap()));
        assert!(m.available(now));
        m.ejected_until.store(now + 1_000_000_000, Ordering::Relaxed);
        assert!(!m.available(now) && m.last_resort(now), "ejected: a last resort");
        m.set_ip(None);
        assert!(!m.available(now) && !m.last_resort(now), "the name stopped resolving");
    }

    #[test]
    fn a_successful_connect_resets_the_failures_and_after_an_ejection_its_back_off() {
        let m = member(2);
        m.connect_failed("refused");
        m.connect_succeeded();
        m.connect_failed("refused");
        assert_eq!(m.status(), Status::Up, "the success in between started the count again");
        m.connect_failed("refused");
        assert_eq!(m.status(), Status::Down);
        assert_eq!(ejected_for(&m), 10);

        // A success during the ejection (a connection opened before it)
        // keeps the back-off: the next ejection is twice as long.
        m.connect_succeeded();
        end_ejection(&m);
        m.connect_failed("refused");
        m.connect_failed("refused");
        assert_eq!(ejected_for(&m), 20);

        // A success after it resets the back-off, even when one during it
        // came first.
        m.connect_succeeded();
        end_ejection(&m);
        m.connect_succeeded();
        m.connect_failed("refused");
        m.connect_failed("refused");
        assert_eq!(ejected_for(&m), 10);
    }

    #[test]
    fn connects_that_never_failed_leave_the_member_up() {
        let m = member(1);
        for _ in 0..3 {
            m.connect_succeeded();
        }
        assert_eq!(m.status(), Status::Up);
        m.connect_failed("refused");
        assert_eq!((m.status(), ejected_for(&m)), (Status::Down, 10));
    }
}
