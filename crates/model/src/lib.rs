//! The gatehouse topology model: one TOML file in, one compiled [`Plan`] out.
//!
//! This crate does no I/O. The caller reads the file and passes its text and
//! name; everything here is a pure function of that text, which is what lets
//! the model be tested exhaustively and reused by every other part.
//!
//! ```text
//! text ──decode──▶ Topology ──validate──▶ diagnostics
//!                     └───────compile───▶ Plan
//! ```

pub mod admission;
pub mod decode;
pub mod diag;
pub mod dns_views;
pub mod path;
pub mod plan;
pub mod routing;
pub mod topology;
pub mod validate;
pub mod web;

pub use admission::Admission;
pub use diag::{Diagnostic, Severity, Source};
pub use plan::{Accept, AcceptVerdict, Plan};
pub use topology::Topology;

/// The built-in Contoso topology, the reference network of the poster.
pub const CONTOSO: &str = include_str!("../../../examples/contoso.toml");
/// The name diagnostics use for the built-in topology.
pub const CONTOSO_NAME: &str = "examples/contoso.toml";

/// The outcome of checking a topology text.
#[derive(Debug)]
pub struct Checked {
    /// Present when the topology had no errors.
    pub plan: Option<Plan>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Decodes, validates and compiles a topology.
pub fn check(text: &str) -> Checked {
    let (topology, mut diagnostics) = decode::decode(text);
    let mut plan = None;
    if let Some(topology) = topology {
        diagnostics.extend(validate::validate(&topology));
        if !diagnostics.iter().any(Diagnostic::is_error) {
            plan = Some(Plan::compile(topology));
        }
    }
    diagnostics.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.severity));
    Checked { plan, diagnostics }
}
