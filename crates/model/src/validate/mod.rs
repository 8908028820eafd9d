//! Semantic checks on a decoded [`Topology`]: references, conflicts and
//! values that parse but make no sense. Every check adds diagnostics and
//! carries on, so one run reports every problem.

mod access;
mod dns;
mod dns_ns;
mod pools;
mod reach;
mod web;

use std::collections::HashMap;
use std::time::Duration;

use crate::diag::{did_you_mean, Diagnostic};
use crate::topology::*;

pub use reach::{published_names, Published};

/// Checks a topology and returns its errors and warnings.
pub fn validate(t: &Topology) -> Vec<Diagnostic> {
    let mut v = Validator { t, out: Vec::new() };
    v.zones();
    v.certificates();
    v.pools();
    v.listeners();
    v.routes();
    v.auth_providers();
    v.user_types();
    if let Some(d) = &t.dns {
        dns::check(t, d, &mut v.out);
    }
    v.acl();
    v.http();
    v.out
}

/// The names defined in one section, for reference checks.
pub(crate) struct Names<'t> {
    /// "pool", "zone", ...
    pub kind: &'static str,
    /// The table that defines them: "pools", "zones", ...
    pub section: &'static str,
    pub names: Vec<&'t str>,
    unusable: Vec<&'t str>,
}

impl<'t> Names<'t> {
    pub fn new(kind: &'static str, section: &'static str, names: impl IntoIterator<Item = &'t str>) -> Self {
        Names {
            kind,
            section,
            names: names.into_iter().collect(),
            unusable: Vec::new(),
        }
    }

    /// Also accepts the names of entries that failed to decode (already reported).
    pub fn with_unusable(mut self, t: &'t Topology) -> Self {
        self.unusable = t
            .unusable
            .iter()
            .filter(|(s, _)| *s == self.section)
            .map(|(_, n)| n.as_str())
            .collect();
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(&name)
    }

    /// Reports `subject` referring to a name that is not defined. `subject`
    /// reads as the start of a sentence: `route "x" sends traffic to`.
    pub fn check(&self, out: &mut Vec<Diagnostic>, subject: &str, r: &Spanned<String>) -> bool {
        self.check_with(out, subject, r, &[])
    }

    /// As [`Names::check`], with extra valid words (built-in policies).
    pub fn check_with(&self, out: &mut Vec<Diagnostic>, subject: &str, r: &Spanned<String>, extra: &[&str]) -> bool {
        if self.contains(&r.value) || extra.contains(&r.value.as_str()) || self.unusable.contains(&r.value.as_str()) {
            return true;
        }
        let candidates = self.names.iter().copied().chain(extra.iter().copied());
        let mut d = Diagnostic::error(
            "unknown-reference",
            format!("{subject} {} \"{}\", which does not exist", self.kind, r.value),
        )
        .at(r.span.clone());
        d = match did_you_mean(&r.value, candidates) {
            Some(best) => d.label(format!("did you mean \"{best}\"?")),
            None => d.label(format!("no {} has this name", self.kind)),
        };
        let known = if self.names.is_empty() && extra.is_empty() {
            format!("none are defined yet; add one as [{}.{}]", self.section, r.value)
        } else {
            let mut all: Vec<&str> = self.names.clone();
            all.extend_from_slice(extra);
            let shown = all.len().min(12);
            let more = if all.len() > shown {
                format!(" and {} more", all.len() - shown)
            } else {
                String::new()
            };
            format!(
                "define it as [{}.{}], or use one of: {}{more}",
                self.section,
                r.value,
                all[..shown].join(", ")
            )
        };
        out.push(d.hint(known));
        false
    }
}

struct Validator<'t> {
    t: &'t Topology,
    out: Vec<Diagnostic>,
}

impl<'t> Validator<'t> {
    fn zone_names(&self) -> Names<'t> {
        Names::new("zone", "zones", self.t.zones.iter().map(|z| z.name.as_str()))
    }

    fn zones(&mut self) {
        let t = self.t;
        if !t.zones.is_empty() || t.default_zone.span != (0..0) {
            let names = self.zone_names();
            if !names.contains(&t.default_zone.value) {
                let mut d = Diagnostic::error(
                    "unknown-reference",
                    format!("the default zone \"{}\" is not defined", t.default_zone.value),
                );
                if t.default_zone.span != (0..0) {
                    d = d.at(t.default_zone.span.clone());
                } else if let Some(z) = t.zones.first() {
                    d = d
                        .at(z.name.span.clone())
                        .label("zones are defined here, but none is the default");
                }
                self.out.push(d.hint(format!(
                    "add [zones.{}] (it needs no prefixes: it holds every address no other zone matches), or set [gatehouse] default_zone",
                    t.default_zone.value
                )));
            }
        }
        for z in t.zones.iter().filter(|z| z.name.value == t.default_zone.value) {
            if let Some(role) = z.role.as_ref().filter(|r| !r.value.is_outside()) {
                self.out.push(
                    Diagnostic::warning(
                        "inside-default-zone",
                        format!(
                            "the default zone \"{}\" has the inside role \"{}\"",
                            z.name.value,
                            role.value.keyword()
                        ),
                    )
                    .at(role.span.clone())
                    .label("every address no prefix matches would count as inside")
                    .hint("the default zone holds the whole Internet; give it `role = \"internet\"`"),
                );
            }
        }
        let mut seen: HashMap<ipnet::IpNet, &str> = HashMap::new();
        for z in &t.zones {
            for p in &z.prefixes {
                match seen.get(&p.value) {
                    Some(other) if *other == z.name.value => self.out.push(
                        Diagnostic::warning("duplicate-prefix", format!("zone \"{other}\" lists {} twice", p.value))
                            .at(p.span.clone())
                            .label("already listed in this zone")
                            .hint("remove one of them"),
                    ),
                    Some(other) => self.out.push(
                        Diagnostic::error(
                            "duplicate-prefix",
                            format!("zones \"{other}\" and \"{}\" have the identical prefix {}", z.name.value, p.value),
                        )
                        .at(p.span.clone())
                        .label(format!("also in zone \"{other}\""))
                        .hint("a client address must belong to exactly one zone; keep the prefix in one of them, or use a longer prefix here"),
                    ),
                    None => {
                        seen.insert(p.value, &z.name.value);
                    }
                }
            }
            let default_defined = t.zones.iter().any(|d| d.name.value == t.default_zone.value);
            let reported = t.unusable.iter().any(|(s, n)| *s == "zones" && *n == z.name.value);
            if z.prefixes.is_empty() && z.name.value != t.default_zone.value && default_defined && !reported {
                self.out.push(
                    Diagnostic::warning(
                        "empty-zone",
                        format!("zone \"{}\" has no prefixes, so no client is ever in it", z.name.value),
                    )
                    .at(z.name.span.clone())
                    .hint("add `prefixes = [...]`, or remove the zone"),
                );
            }
        }
    }

    fn http(&mut self) {
        let h = &self.t.http;
        nonzero(&mut self.out, &h.header_timeout, "header_timeout", "[http]");
        nonzero(&mut self.out, &h.handshake_timeout, "handshake_timeout", "[http]");
        nonzero(&mut self.out, &h.backend_keepalive, "backend_keepalive", "[http]");
        if let Some(b) = &h.body_timeout {
            nonzero(&mut self.out, b, "body_timeout", "[http]");
        }
        if h.h2_max_streams == 0 {
            self.out.push(
                Diagnostic::error("invalid-value", "[http] allows no HTTP/2 streams")
                    .hint("`h2_max_streams` must be at least 1; 100 or more is usual"),
            );
        }
    }

    fn certificates(&mut self) {
        for c in &self.t.certificates {
            match (&c.cert, &c.key) {
                (Some(cert), None) => self.out.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("certificate \"{}\" has a `cert` but no `key`", c.name.value),
                    )
                    .at(cert.span.clone())
                    .hint("add `key = \"path/to/key.pem\"`"),
                ),
                (None, Some(key)) => self.out.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("certificate \"{}\" has a `key` but no `cert`", c.name.value),
                    )
                    .at(key.span.clone())
                    .hint("add `cert = \"path/to/fullchain.pem\"`"),
                ),
                _ => {}
            }
            if c.cert.is_none() && c.names.is_empty() {
                self.out.push(
                    Diagnostic::error(
                        "empty-certificate",
                        format!("certificate \"{}\" covers no names", c.name.value),
                    )
                    .at(c.name.span.clone())
                    .hint("give `cert` and `key` files, or `names = [...]` for a generated certificate"),
                );
            }
            for n in &c.names {
                check_host_name(&mut self.out, n, true);
            }
        }
    }
}

/// Reports a zero duration; returns whether the value is usable.
fn nonzero(out: &mut Vec<Diagnostic>, d: &Spanned<Duration>, key: &str, who: &str) -> bool {
    if d.value.is_zero() {
        out.push(
            Diagnostic::error("zero-timeout", format!("{who} has a {key} of zero"))
                .at(d.span.clone())
                .label("zero would fire at once")
                .hint("give a positive duration such as \"5s\""),
        );
        return false;
    }
    true
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Whether a certificate name (possibly `*.example.com`) covers a host.
pub fn name_covers(cert_name: &str, host: &str) -> bool {
    let cert_name = cert_name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match cert_name.strip_prefix("*.") {
        // A wildcard covers exactly one label (RFC 6125 section 6.4.3).
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => cert_name == host,
    }
}

/// Reports a host name that is not a valid DNS name.
pub(crate) fn check_host_name(out: &mut Vec<Diagnostic>, n: &Spanned<String>, wildcard_ok: bool) {
    let name = n.value.trim_end_matches('.');
    let name = if wildcard_ok {
        name.strip_prefix("*.").unwrap_or(name)
    } else {
        name
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        out.push(
            Diagnostic::error("invalid-host", format!("\"{}\" is not a valid host name", n.value))
                .at(n.span.clone())
                .label("expected a DNS name such as \"mail.contoso.com\"")
                .hint("labels use letters, digits and `-`, are separated by dots, and are at most 63 characters"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::name_covers;

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(name_covers("*.contoso.com", "mail.contoso.com"));
        assert!(name_covers("*.contoso.com", "MAIL.Contoso.com."));
        assert!(!name_covers("*.contoso.com", "contoso.com"));
        assert!(!name_covers("*.contoso.com", "a.b.contoso.com"));
        assert!(name_covers("mail.contoso.com", "mail.contoso.com"));
        assert!(!name_covers("mail.contoso.com", "owa.contoso.com"));
    }
}
