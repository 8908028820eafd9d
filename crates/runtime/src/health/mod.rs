//! Member health: what state each pool member is in, why, and who is told.
//!
//! A member's state is the combination of three inputs:
//!
//! - **active checks** ([`start_checks`]): tcp connect, or an http(s) GET
//!   with an expected status and optional body substring, every `interval`,
//!   with `rise` consecutive passes to come up and `fall` consecutive
//!   failures to go down. Like HAProxy, a member starts up but goes down at
//!   its first failed check, so a dead member is caught at once at start-up
//!   and a live one serves without waiting `rise` intervals;
//! - **passive health**: a failed connect (reported through
//!   [`crate::pool::MemberGuard::connect_failed`]) ejects the member for a
//!   back-off period that doubles on each consecutive ejection
//!   ([`PassiveHealth`]); a passing active check ends an ejection early;
//! - **draining**, set by an operator: no new connections, existing ones
//!   finish.
//!
//! The effective [`Status`] is `Draining` if draining, else `Down` if the
//! checks say so or the member is ejected, else `Up`. Every change of the
//! effective status is logged with its reason and published as a
//! [`HealthEvent`] ([`Health::subscribe`]) and as a bump of a generation
//! counter ([`Health::changes`]), which is what DNS load balancing watches.
//!
//! State is keyed by [`MemberKey`] (pool name, member `host:port`) and lives
//! in a [`Health`] registry that outlives plans, so a reload keeps the state,
//! connection counts and metrics of members that still exist.

mod monitor;
mod probe;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

pub use monitor::{start_checks, CheckHandle};
pub use probe::{probe, ProbeError, ProbeTarget};
pub(crate) use state::MemberState;

/// Identifies a member across reloads: its pool's name and its address as
/// written (`host:port`, or `host` for members that take the client's port).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MemberKey {
    pub pool: String,
    pub member: String,
}

impl fmt::Display for MemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pool, self.member)
    }
}

/// The effective state of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Takes new connections.
    Up,
    /// Failed its checks or was ejected after connect failures: no new
    /// connections.
    Down,
    /// Set aside by an operator: no new connections; open ones finish.
    Draining,
}

impl Status {
    pub fn keyword(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Draining => "draining",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A change of a member's effective status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthEvent {
    pub member: MemberKey,
    pub from: Status,
    pub to: Status,
    /// Why, in words: "3 failed checks: connect: Connection refused",
    /// "2 passed checks", "ejected for 10s after a failed connect", ...
    pub reason: String,
}

/// Passive health: how connect failures eject a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Consecutive connect failures that eject a member. Default 1: a
    /// refused or timed-out connect is already strong evidence at L4.
    pub failures: u32,
    /// The first ejection's length; each consecutive ejection doubles it.
    /// Default 10 s.
    pub base_ejection: Duration,
    /// The longest ejection. Default 5 min.
    pub max_ejection: Duration,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        PassiveHealth {
            failures: 1,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(300),
        }
    }
}

/// Where state changes are published; shared by every member state.
#[derive(Debug)]
pub(crate) struct Hub {
    events: broadcast::Sender<HealthEvent>,
    changes: watch::Sender<u64>,
    pub(crate) passive: PassiveHealth,
}

impl Hub {
    fn publish(&self, event: HealthEvent) {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.events.send(event);
        self.changes.send_modify(|g| *g += 1);
    }
}

/// The registry of member states, outliving plans. Cheap to share by
/// reference; build each plan's [`crate::pool::Pools`] against the same one.
#[derive(Debug)]
pub struct Health {
    hub: Arc<Hub>,
    /// Weak: a member's state lives as long as a plan or a connection uses
    /// it, and is found again if a later plan brings the member back while
    /// connections still hold it.
    members: Mutex<HashMap<MemberKey, Weak<MemberState>>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(PassiveHealth::default())
    }
}

impl Health {
    pub fn new(passive: PassiveHealth) -> Health {
        let (events, _) = broadcast::channel(1024);
        let (changes, _) = watch::channel(0);
        Health {
            hub: Arc::new(Hub {
                events,
                changes,
                passive,
            }),
            members: Mutex::new(HashMap::new()),
        }
    }

    /// Every status change from now on. A slow receiver that falls more than
    /// 1024 events behind gets `RecvError::Lagged` and should re-read the
    /// state it cares about.
    pub fn subscribe(&self) -> broadcast::Receiver<HealthEvent> {
        self.hub.events.subscribe()
    }

    /// A counter bumped on every status change: for consumers (DNS) that
    /// only need "something changed, re-read `is_up`".
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.hub.changes.subscribe()
    }

    pub fn passive(&self) -> PassiveHealth {
        self.hub.passive
    }

    /// The state for `key`: the existing one if any plan or connection
    /// still holds it, else a fresh one (up, not draining).
    pub(crate) fn member_state(&self, key: MemberKey, literal: Option<std::net::IpAddr>) -> Arc<MemberState> {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = members.get(&key).and_then(Weak::upgrade) {
            return existing;
        }
        let state = Arc::new(MemberState::new(key.clone(), self.hub.clone(), literal));
        members.insert(key, Arc::downgrade(&state));
        // Forget states nobody holds any more, so the map does not grow
        // with every member ever configured.
        members.retain(|_, w| w.strong_count() > 0);
        state
    }
}
