//! The gatehouse runtime: pools, health checks, and L4 (TCP/UDP) VIPs over a
//! compiled [`gatehouse_model::Plan`].
//!
//! The pieces, each usable on its own:
//!
//! - [`health`]: per-member state shared across reloads (up, down,
//!   draining, passive ejection), active checks (tcp, http, https), and
//!   change notifications for DNS load balancing.
//! - [`pool`]: the members of every pool of a plan and the balancing
//!   algorithms; [`pool::Pool::pick`] hands out a [`pool::MemberGuard`] that
//!   counts the connection until it is dropped.
//! - [`gate`]: the *accept* phase: zone lookup, gateway ACL and listener
//!   zones, with per-rule counters and rate-limited denial logs.
//! - [`l4`]: TCP and UDP VIPs, PROXY protocol, streaming with half-close.
//! - [`metrics`]: connections, bytes and errors per VIP and per member.
//! - [`Runtime`]: binds every tcp/udp listener of a plan, swaps plans on
//!   reload, and shuts down gracefully.
//!
//! Everything that spawns tasks must run inside a Tokio runtime.

pub mod gate;
pub mod health;
pub mod l4;
pub mod metrics;
pub mod pool;
mod runtime;
mod time;

pub use gate::{Admission, Gate};
pub use health::{CheckHandle, Health, HealthEvent, MemberKey, PassiveHealth, Status};
pub use metrics::{Metrics, MetricsSnapshot};
pub use pool::{member_name, Member, MemberGuard, PickContext, Pool, Pools};
pub use runtime::{PreparedReload, ReloadError, Runtime, RuntimeOptions, StartError, UnknownMember};
