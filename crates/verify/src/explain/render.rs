//! The text rendering of an [`Explanation`]: the flow, one block per phase
//! (summary, then the reasons, indented), and the verdict.

use std::fmt;

use super::{Effect, Explanation, Verdict};

/// Width of the phase column, so summaries line up.
const COLUMN: usize = 11;

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.query;
        write!(f, "{} -> {} {}/{}", q.src, q.dst, q.transport.keyword(), q.port)?;
        if let Some(h) = &q.host {
            write!(f, ", Host {h}")?;
        }
        if let Some(p) = &q.path {
            write!(f, ", path {p}")?;
        }
        writeln!(f, "\n")?;
        for step in &self.steps {
            writeln!(f, "{:<COLUMN$}{}", step.phase.keyword(), step.summary)?;
            for d in &step.details {
                writeln!(f, "{:<COLUMN$}{d}", "")?;
            }
        }
        let outcome = match &self.verdict {
            Verdict::Allowed => "ALLOWED".to_string(),
            Verdict::DnsOnly => "ALLOWED (DNS only)".to_string(),
            Verdict::Redirected { location } => format!("REDIRECTED to {location}"),
            Verdict::Denied { phase, effect } => format!("DENIED at {} ({})", phase.keyword(), effect_text(*effect)),
        };
        writeln!(f, "\n{outcome}: {}", self.because)
    }
}

fn effect_text(e: Effect) -> &'static str {
    match e {
        Effect::NoAnswer => "no DNS answer",
        Effect::Refused => "DNS query refused",
        Effect::NotListening => "connection refused",
        Effect::Closed => "connection closed",
        Effect::BadRequest => "HTTP 400",
        Effect::NotFound => "HTTP 404",
        Effect::Forbidden => "HTTP 403",
        Effect::SignInUnavailable => "HTTP 503, sign-in unavailable",
    }
}
