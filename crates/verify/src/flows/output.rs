//! The text and JSON forms of a [`Report`]. The `_in` variants add the
//! file, line and column of every error and finding, given the topology text.

use std::fmt::Write as _;

use gatehouse_model::diag::Span;
use gatehouse_model::Source;
use serde_json::{json, Value};

use super::report::{Finding, Flow, FlowError, Report, Severity};

type Locate<'a> = &'a dyn Fn(&Option<Span>) -> Option<(usize, usize)>;

impl Report {
    /// Plain text: errors, findings, then the flows grouped by user type.
    pub fn to_text(&self) -> String {
        self.text(None, &|_| None)
    }

    /// As [`Report::to_text`], with `--> file:line:col` under each error and finding.
    pub fn to_text_in(&self, source: &Source<'_>) -> String {
        self.text(Some(source.name), &|s| locate(source, s))
    }

    /// The machine-readable form: `summary`, `errors`, `findings`, `flows`.
    pub fn to_json(&self) -> Value {
        self.json(None, &|_| None)
    }

    /// As [`Report::to_json`], with `file` and each item's `line` and `column`.
    pub fn to_json_in(&self, source: &Source<'_>) -> Value {
        self.json(Some(source.name), &|s| locate(source, s))
    }

    fn counts(&self) -> (usize, usize) {
        let warnings = self.findings.iter().filter(|f| f.severity == Severity::Warning).count();
        (warnings, self.findings.len() - warnings)
    }

    fn text(&self, file: Option<&str>, loc: Locate<'_>) -> String {
        let mut out = String::new();
        let c = &self.counts;
        let _ = writeln!(
            out,
            "verify {}: {} user type{}, {} zone{}, {} published target{}",
            if self.topology.is_empty() {
                "topology"
            } else {
                &self.topology
            },
            c.user_types,
            plural(c.user_types),
            c.zones,
            plural(c.zones),
            c.targets,
            plural(c.targets)
        );
        out.push('\n');
        let at = |span: &Option<Span>| match (file, loc(span)) {
            (Some(f), Some((l, c))) => format!("  --> {f}:{l}:{c}\n"),
            _ => String::new(),
        };
        for e in &self.errors {
            let _ = writeln!(out, "error[{}]: {}", e.id, e.message);
            out.push_str(&at(&e.span));
            for r in &e.reasons {
                let _ = writeln!(out, "  = {r}");
            }
            let _ = writeln!(out, "  fix: {}\n", e.fix);
        }
        for f in &self.findings {
            let _ = writeln!(out, "{}[{}]: {}", f.severity.keyword(), f.id, f.message);
            out.push_str(&at(&f.span));
            let _ = writeln!(out, "  guidance: \"{}\" ({})", f.guidance.quote, f.guidance.section);
            if let Some(n) = f.guidance.note {
                let _ = writeln!(out, "  note: {n}");
            }
            let _ = writeln!(out, "  fix: {}\n", f.fix);
        }
        self.summary_table(&mut out);
        let (warnings, info) = self.counts();
        let _ = writeln!(
            out,
            "\nverify: {} error{}, {} finding{} ({warnings} warning{}, {info} info), {} flow{}",
            self.errors.len(),
            plural(self.errors.len()),
            self.findings.len(),
            plural(self.findings.len()),
            plural(warnings),
            self.flows.len(),
            plural(self.flows.len())
        );
        out
    }

    /// Every listed flow, one line each, grouped by user type: the long
    /// form behind `gatehouse verify --flows`.
    pub fn flow_table(&self) -> String {
        let mut out = String::new();
        let zone_width = self.flows.iter().map(|f| f.zone.len()).max().unwrap_or(0);
        let target_width = self
            .flows
            .iter()
            .map(|f| f.target.label().len())
            .max()
            .unwrap_or(0)
            .min(48);
        let mut current: Option<Option<&str>> = None;
        for f in &self.flows {
            let who = f.user_type.as_deref();
            if current != Some(who) {
                current = Some(who);
                let _ = writeln!(
                    out,
                    "{}",
                    who.map_or_else(
                        || "zones no user type comes from".to_string(),
                        |u| format!("user type {u}")
                    )
                );
            }
            let _ = writeln!(
                out,
                "  {:<10}  {:<zone_width$}  {:<target_width$}  {}",
                f.status(),
                f.zone,
                f.target.label(),
                tail(f)
            );
        }
        out
    }

    /// Per user type: how each declaration is met, then what is open but undeclared.
    fn summary_table(&self, out: &mut String) {
        let reach_width = self.reaches.iter().map(|r| r.reach.len()).max().unwrap_or(0);
        for info in &self.user_types {
            let u = info.name.as_str();
            let label = info.label.as_ref().map_or_else(String::new, |l| format!(" \"{l}\""));
            let _ = writeln!(out, "user type {u}{label}, from {}", info.zones.join(", "));
            for r in self.reaches.iter().filter(|r| r.user_type == u) {
                if r.from.is_empty() {
                    let _ = writeln!(
                        out,
                        "  {:<8} {:<reach_width$}  from no zone (see the error)",
                        "BLOCKED", r.reach
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "  {:<8} {:<reach_width$}  from {}",
                        "met",
                        r.reach,
                        r.from.join(", ")
                    );
                }
            }
            let open = self
                .flows
                .iter()
                .filter(|f| f.user_type.as_deref() == Some(u) && f.status() == "undeclared");
            let grouped = group(open);
            if !grouped.is_empty() {
                let _ = writeln!(out, "  open but undeclared:");
                for g in grouped {
                    let _ = writeln!(out, "    {g}");
                }
            }
        }
        let bare: Vec<&Flow> = self.flows.iter().filter(|f| f.user_type.is_none()).collect();
        for z in unique(bare.iter().map(|f| f.zone.as_str())) {
            let labels: Vec<String> = bare.iter().filter(|f| f.zone == z).map(|f| short(f)).collect();
            let open = unique(labels.iter().map(String::as_str));
            let _ = writeln!(out, "zone {z}, which no user type comes from, can open:");
            for o in open {
                let _ = writeln!(out, "    {o}");
            }
        }
    }

    fn json(&self, file: Option<&str>, loc: Locate<'_>) -> Value {
        let (warnings, info) = self.counts();
        let mut v = json!({
            "topology": self.topology,
            "summary": {
                "errors": self.errors.len(),
                "findings": self.findings.len(),
                "warnings": warnings,
                "info": info,
                "flows": self.flows.len(),
                "user_types": self.counts.user_types,
                "zones": self.counts.zones,
                "targets": self.counts.targets,
            },
            "errors": self.errors.iter().map(|e| error_json(e, file.is_some(), loc)).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(|f| finding_json(f, file.is_some(), loc)).collect::<Vec<_>>(),
            "user_types": self.user_types.iter().map(|u| json!({
                "name": u.name,
                "label": u.label,
                "zones": u.zones,
            })).collect::<Vec<_>>(),
            "reaches": self.reaches.iter().map(|r| json!({
                "user_type": r.user_type,
                "reach": r.reach,
                "met": !r.from.is_empty(),
                "from": r.from,
            })).collect::<Vec<_>>(),
            "flows": self.flows.iter().map(flow_json).collect::<Vec<_>>(),
        });
        if let Some(f) = file {
            v["file"] = json!(f);
        }
        v
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn locate(source: &Source<'_>, span: &Option<Span>) -> Option<(usize, usize)> {
    span.as_ref().map(|s| source.line_col(s.start))
}

/// The distinct items, in first-seen order.
fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
    v
}

/// `name:port` (and ` udp`) without the route paths.
fn short(f: &Flow) -> String {
    let t = &f.target;
    let udp = if t.transport == gatehouse_model::topology::Transport::Udp {
        " udp"
    } else {
        ""
    };
    format!("{}:{}{udp}", t.name, t.ports)
}

/// Flows grouped by `name:port`, each with the zones it is open from.
fn group<'a>(flows: impl Iterator<Item = &'a Flow>) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for f in flows {
        let key = short(f);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, zones)) => {
                if !zones.contains(&f.zone.as_str()) {
                    zones.push(&f.zone);
                }
            }
            None => groups.push((key, vec![&f.zone])),
        }
    }
    groups
        .into_iter()
        .map(|(k, z)| format!("{k} ({})", z.join(", ")))
        .collect()
}

/// The rest of a flow's line: where it goes, or where it stops; and for a
/// flow gatehouse refuses at runtime, why.
fn tail(f: &Flow) -> String {
    if let Some(h) = f.stopped_at() {
        return format!("{}: {}", h.step.keyword(), h.detail);
    }
    let auth = f.refused_at_runtime().map_or_else(
        || format!("auth {}", f.auth),
        |h| format!("{}: {}", h.step.keyword(), h.detail),
    );
    let e = &f.entry;
    let mut parts = Vec::new();
    if let Some(l) = &e.listener {
        parts.push(l.clone());
    }
    if let Some(r) = &e.route {
        parts.push(r.clone());
    }
    parts.push(e.pool.clone());
    format!("{}; {auth}", parts.join(" → "))
}

fn with_location(mut v: Value, located: bool, loc: Locate<'_>, span: &Option<Span>) -> Value {
    if located {
        let at = loc(span);
        v["line"] = json!(at.map(|p| p.0));
        v["column"] = json!(at.map(|p| p.1));
    }
    v
}

fn error_json(e: &FlowError, located: bool, loc: Locate<'_>) -> Value {
    let v = json!({
        "id": e.id,
        "message": e.message,
        "user_type": e.user_type,
        "zone": e.zone,
        "targets": e.targets,
        "reasons": e.reasons,
        "fix": e.fix,
    });
    with_location(v, located, loc, &e.span)
}

fn finding_json(f: &Finding, located: bool, loc: Locate<'_>) -> Value {
    let v = json!({
        "id": f.id,
        "severity": f.severity.keyword(),
        "message": f.message,
        "guidance": {
            "quote": f.guidance.quote,
            "source": f.guidance.section,
            "note": f.guidance.note,
        },
        "fix": f.fix,
    });
    with_location(v, located, loc, &f.span)
}

fn flow_json(f: &Flow) -> Value {
    json!({
        "user_type": f.user_type,
        "zone": f.zone,
        "target": f.target.label(),
        "name": f.target.name,
        "transport": f.target.transport.keyword(),
        "ports": f.target.ports.to_string(),
        "paths": f.target.paths,
        "listener": f.entry.listener,
        "route": f.entry.route,
        "pool": f.entry.pool,
        "product": f.product.map(|p| p.keyword()),
        "class": f.class.map(|c| c.keyword()),
        "auth": f.auth,
        "access": f.access.keyword(),
        "declared": f.declared,
        "status": f.status(),
        "path": f.path.iter().map(|h| json!({
            "step": h.step.keyword(),
            "name": h.name,
            "outcome": h.outcome.keyword(),
            "detail": h.detail,
        })).collect::<Vec<_>>(),
    })
}
