//! The compiled plan: what the runtime needs, resolved once from a valid
//! topology. Nothing on a hot path consults the raw topology.

use crate::topology::Topology;
use crate::validate::{published_names, Published};

/// A valid topology compiled for the runtime. Immutable; shared behind an
/// `Arc` and swapped whole on reload.
#[derive(Debug)]
pub struct Plan {
    pub topology: Topology,
    /// Every published name with the listener, ports and zones that serve it.
    pub published: Vec<Published>,
}

impl Plan {
    /// Compiles a topology that validated without errors.
    pub fn compile(topology: Topology) -> Plan {
        let published = published_names(&topology);
        Plan { topology, published }
    }
}
