//! Flow analysis of a gatehouse topology: every user type's path through the
//! gateway, VIPs, routes and pools, and findings from the reference
//! architecture's guidance. Also `explain`: why one flow is allowed or not.
//! Pure functions of a [`gatehouse_model::Plan`]; no I/O.

pub mod explain;
pub mod flows;

pub use flows::{verify, Finding, Flow, FlowError, Report};
