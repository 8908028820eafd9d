//! Semantic checks on a decoded [`Topology`]: references, conflicts and
//! values that parse but make no sense. Every check adds diagnostics and
//! carries on, so one run reports every problem.

mod dns;
mod reach;

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
            if z.prefixes.is_empty() && z.name.value != t.default_zone.value {
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

    fn pools(&mut self) {
        let t = self.t;
        let services = Names::new("service", "services", t.services.iter().map(|s| s.name.as_str())).with_unusable(t);
        for p in &t.pools {
            services.check(
                &mut self.out,
                &format!("pool \"{}\" belongs to", p.name.value),
                &p.service,
            );
            if p.members.is_empty() {
                self.out.push(
                    Diagnostic::error("empty-pool", format!("pool \"{}\" has no members", p.name.value))
                        .at(p.members_span.clone())
                        .label("a pool needs at least one member")
                        .hint("add `members = [\"10.0.2.11:443\"]`"),
                );
            } else if p.members.iter().all(|m| m.backup) {
                self.out.push(
                    Diagnostic::warning(
                        "all-backup",
                        format!("every member of pool \"{}\" is a backup", p.name.value),
                    )
                    .at(p.members_span.clone())
                    .hint("backups serve only while every primary is down; make at least one member primary"),
                );
            }
            let mut seen: HashMap<(&str, Option<u16>), ()> = HashMap::new();
            for m in &p.members {
                let key = (m.host.value.as_str(), m.port.as_ref().map(|p| p.value));
                if seen.insert(key, ()).is_some() {
                    self.out.push(
                        Diagnostic::error(
                            "duplicate-member",
                            format!("pool \"{}\" lists member {} twice", p.name.value, m.host.value),
                        )
                        .at(m.span.clone())
                        .hint("remove the duplicate; use `weight` to send a member more traffic"),
                    );
                }
                if m.weight == 0 {
                    self.out.push(
                        Diagnostic::warning(
                            "zero-weight",
                            format!(
                                "member {} of pool \"{}\" has weight 0 and gets no traffic",
                                m.host.value, p.name.value
                            ),
                        )
                        .at(m.span.clone())
                        .hint("use a weight of 1 or more, or `backup = true`"),
                    );
                }
            }
            if let Some(h) = &p.health {
                self.health_check(p, h);
            }
            if p.dns_balanced && p.dns_name.is_none() {
                self.out.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("pool \"{}\" is DNS-balanced but has no `dns_name`", p.name.value),
                    )
                    .at(p.name.span.clone())
                    .hint("add `dns_name = \"pool01.contoso.com\"`: the name whose answers list the healthy members"),
                );
            }
            if let (false, Some(n)) = (p.dns_balanced, &p.dns_name) {
                self.out.push(
                    Diagnostic::warning(
                        "ignored-key",
                        format!("pool \"{}\" has a `dns_name` but is not DNS-balanced", p.name.value),
                    )
                    .at(n.span.clone())
                    .hint("add `dns_balanced = true`, or remove `dns_name`"),
                );
            }
            if let Some(n) = &p.dns_name {
                check_host_name(&mut self.out, n, false);
            }
            if p.dns_balanced {
                nonzero(
                    &mut self.out,
                    &p.dns_ttl,
                    "dns_ttl",
                    &format!("pool \"{}\"", p.name.value),
                );
            }
        }
    }

    fn health_check(&mut self, p: &Pool, h: &HealthCheck) {
        let who = format!("the health check of pool \"{}\"", p.name.value);
        let interval_ok = nonzero(&mut self.out, &h.interval, "interval", &who);
        let timeout_ok = nonzero(&mut self.out, &h.timeout, "timeout", &who);
        if interval_ok && timeout_ok && h.timeout.value > h.interval.value {
            self.out.push(
                Diagnostic::error(
                    "timeout-order",
                    format!(
                        "{who} waits {} for an answer but runs every {}",
                        fmt_duration(h.timeout.value),
                        fmt_duration(h.interval.value)
                    ),
                )
                .at(h.timeout.span.clone())
                .label("longer than the interval")
                .hint("a check's timeout must not exceed its interval; shorten `timeout` or lengthen `interval`"),
            );
        }
        for (value, key) in [(&h.rise, "rise"), (&h.fall, "fall")] {
            if value.value == 0 {
                self.out.push(
                    Diagnostic::error("invalid-value", format!("{who} has `{key} = 0`"))
                        .at(value.span.clone())
                        .label("must be at least 1")
                        .hint(format!(
                            "`{key}` counts consecutive results before the state changes; use 1 or more"
                        )),
                );
            }
        }
        if let Some(path) = &h.path {
            if !path.value.starts_with('/') {
                self.out.push(
                    Diagnostic::error(
                        "invalid-path",
                        format!("{who} checks \"{}\", which does not start with `/`", path.value),
                    )
                    .at(path.span.clone())
                    .hint(format!("write \"/{}\"", path.value)),
                );
            }
        }
        if h.kind != CheckKind::Tcp && h.host.is_none() {
            self.out.push(
                Diagnostic::warning("check-without-host", format!("{who} sends no Host header", ))
                    .at(h.span.clone())
                    .hint("add `host = \"mail.contoso.com\"`: name-based sites answer a bare address with an error or a redirect"),
            );
        }
    }

    fn listeners(&mut self) {
        let t = self.t;
        let zones = self.zone_names();
        let certs = Names::new(
            "certificate",
            "certificates",
            t.certificates.iter().map(|c| c.name.as_str()),
        );
        let pools = Names::new("pool", "pools", t.pools.iter().map(|p| p.name.as_str())).with_unusable(t);
        for l in &t.listeners {
            let who = format!("listener \"{}\"", l.name.value);
            if l.zones.is_empty() {
                self.out.push(
                    Diagnostic::error("no-zones", format!("{who} admits no zone, so nobody can connect"))
                        .at(l.name.span.clone())
                        .hint("list the zones that may connect: `zones = [\"internet\"]`"),
                );
            }
            for z in &l.zones {
                zones.check(&mut self.out, &format!("{who} admits"), z);
            }
            for c in &l.certificates {
                certs.check(&mut self.out, &format!("{who} offers"), c);
            }
            if let Some(d) = &l.default_certificate {
                if certs.check(&mut self.out, &format!("{who} defaults to"), d)
                    && !l.certificates.iter().any(|c| c.value == d.value)
                {
                    self.out.push(
                        Diagnostic::error(
                            "default-certificate",
                            format!("{who} defaults to certificate \"{}\" but does not offer it", d.value),
                        )
                        .at(d.span.clone())
                        .hint(format!("add \"{}\" to `certificates`", d.value)),
                    );
                }
            }
            let proto = l.protocol.value;
            if !proto.is_http() {
                match &l.pool {
                    Some(p) => {
                        pools.check(&mut self.out, &format!("{who} sends traffic to"), p);
                    }
                    None => self.out.push(
                        Diagnostic::error(
                            "missing-key",
                            format!("{who} is a {} VIP without a `pool`", proto.keyword()),
                        )
                        .at(l.protocol.span.clone())
                        .hint("add `pool = \"...\"`: the servers its connections are balanced over"),
                    ),
                }
            } else if let Some(p) = &l.pool {
                self.out.push(
                    Diagnostic::error(
                        "pool-on-http-listener",
                        format!(
                            "{who} is an {} listener, which routes by host and path",
                            proto.keyword()
                        ),
                    )
                    .at(p.span.clone())
                    .label("http(s) listeners do not take a pool")
                    .hint("remove `pool` and add a [routes.NAME] with `listeners` naming this listener"),
                );
            }
            if proto.is_http() && l.ports.value.first != l.ports.value.last {
                self.out.push(
                    Diagnostic::error(
                        "port-range",
                        format!("{who} is an {} listener on a port range", proto.keyword()),
                    )
                    .at(l.ports.span.clone())
                    .hint("web listeners take one port; port ranges are for tcp and udp VIPs"),
                );
            }
            if proto != Protocol::Https && !l.certificates.is_empty() {
                self.out.push(
                    Diagnostic::warning(
                        "ignored-key",
                        format!("{who} is not https; its certificates are not used"),
                    )
                    .at(l.certificates[0].span.clone())
                    .hint("set `protocol = \"https\"`, or remove `certificates`"),
                );
            }
            if proto == Protocol::Udp && l.proxy_protocol.is_some() {
                self.out.push(
                    Diagnostic::error(
                        "invalid-value",
                        format!("{who} is udp; the PROXY protocol is for tcp streams"),
                    )
                    .at(l.protocol.span.clone())
                    .hint("remove `proxy_protocol`"),
                );
            }
            nonzero(&mut self.out, &l.idle_timeout, "idle_timeout", &who);
            for n in &l.names {
                check_host_name(&mut self.out, n, false);
            }
        }
        // Two sockets that would both claim the same address, port and transport.
        for (i, a) in t.listeners.iter().enumerate() {
            for b in &t.listeners[..i] {
                let same_addr = a.address.value == b.address.value
                    || a.address.value.is_unspecified()
                    || b.address.value.is_unspecified();
                if same_addr
                    && a.address.value.is_ipv4() == b.address.value.is_ipv4()
                    && a.protocol.value.transport() == b.protocol.value.transport()
                    && a.ports.value.overlaps(b.ports.value)
                {
                    self.out.push(
                        Diagnostic::error(
                            "listener-conflict",
                            format!(
                                "listeners \"{}\" and \"{}\" both listen on {} {} port {}",
                                b.name.value,
                                a.name.value,
                                a.address.value,
                                a.protocol.value.transport().keyword(),
                                a.ports.value
                            ),
                        )
                        .at(a.ports.span.clone())
                        .label(format!("already taken by listener \"{}\"", b.name.value))
                        .hint("give one of them another address or port; several host names share one https listener through routes"),
                    );
                }
            }
        }
    }

    fn routes(&mut self) {
        let t = self.t;
        let zones = self.zone_names();
        let pools = Names::new("pool", "pools", t.pools.iter().map(|p| p.name.as_str())).with_unusable(t);
        let listeners =
            Names::new("listener", "listeners", t.listeners.iter().map(|l| l.name.as_str())).with_unusable(t);
        let providers = Names::new(
            "auth provider",
            "auth_providers",
            t.auth_providers.iter().map(|p| p.name.as_str()),
        )
        .with_unusable(t);
        // (listener, host, path) -> route, to find routes that shadow each other.
        let mut claimed: HashMap<(String, String, String), &str> = HashMap::new();
        for r in &t.routes {
            let who = format!("route \"{}\"", r.name.value);
            let pool = pools
                .check(&mut self.out, &format!("{who} sends traffic to"), &r.pool)
                .then(|| t.pools.iter().find(|p| p.name.value == r.pool.value))
                .flatten();
            for h in &r.hosts {
                check_host_name(&mut self.out, h, true);
            }
            for z in r.zones.iter().flatten() {
                zones.check(&mut self.out, &format!("{who} admits"), z);
            }
            for (z, policy) in &r.auth {
                zones.check(&mut self.out, &format!("{who} sets the auth of"), z);
                self.auth_policy(&providers, &who, policy);
            }
            self.auth_policy(&providers, &who, &r.auth_default);
            self.route_timeouts(r, &who);
            let ignore_case = r.ignore_case.unwrap_or_else(|| {
                pool.and_then(|p| t.services.iter().find(|s| s.name.value == p.service.value))
                    .is_some_and(|s| s.product.value == Product::Exchange)
            });
            for l in &r.listeners {
                if !listeners.check(&mut self.out, &format!("{who} is on"), l) {
                    continue;
                }
                let Some(listener) = t.listeners.iter().find(|x| x.name.value == l.value) else {
                    continue;
                };
                if !listener.protocol.value.is_http() {
                    self.out.push(
                        Diagnostic::error(
                            "route-on-l4-listener",
                            format!(
                                "{who} is on listener \"{}\", which is a {} VIP",
                                l.value,
                                listener.protocol.value.keyword()
                            ),
                        )
                        .at(l.span.clone())
                        .label("routes need an http or https listener")
                        .hint(format!(
                            "set `pool` on listener \"{}\" instead, or use an http(s) listener",
                            l.value
                        )),
                    );
                    continue;
                }
                if listener.protocol.value == Protocol::Https && !listener.certificates.is_empty() {
                    for h in &r.hosts {
                        self.certificate_covers(listener, h, &who);
                    }
                }
                if r.plain && listener.protocol.value == Protocol::Https {
                    self.out.push(
                        Diagnostic::warning("ignored-key", format!("{who} is marked plain but listener \"{}\" is https", l.value))
                            .at(l.span.clone())
                            .hint("`plain = true` only matters on http listeners, where it serves the route instead of redirecting"),
                    );
                }
                for h in &r.hosts {
                    for p in &r.paths {
                        let norm = |s: &str| {
                            if ignore_case {
                                s.to_ascii_lowercase()
                            } else {
                                s.to_string()
                            }
                        };
                        let key = (
                            l.value.clone(),
                            h.value.to_ascii_lowercase(),
                            norm(p.value.trim_end_matches('/')),
                        );
                        if let Some(other) = claimed.get(&key) {
                            if *other != r.name.value {
                                self.out.push(
                                    Diagnostic::error("duplicate-route", format!("{who} and route \"{other}\" both match {}{} on listener \"{}\"", h.value, p.value, l.value))
                                        .at(p.span.clone())
                                        .label(format!("already matched by route \"{other}\""))
                                        .hint("only one route can answer a host and path; remove one, or make one path longer"),
                                );
                            }
                        } else {
                            claimed.insert(key, &r.name.value);
                        }
                    }
                }
            }
            if let Some(p) = pool {
                if p.tier == Tier::Database {
                    self.out.push(
                        Diagnostic::warning(
                            "route-to-database",
                            format!(
                                "{who} sends web traffic to pool \"{}\" in the database tier",
                                p.name.value
                            ),
                        )
                        .at(r.pool.span.clone())
                        .hint("routes normally reach the front-end tier; check the pool name"),
                    );
                }
            }
        }
    }

    fn auth_policy(&mut self, providers: &Names<'_>, who: &str, policy: &Spanned<AuthPolicy>) {
        if let AuthPolicy::Provider(name) = &policy.value {
            providers.check_with(
                &mut self.out,
                &format!("{who} authenticates with"),
                &Spanned::new(name.clone(), policy.span.clone()),
                &AuthPolicy::BUILT_IN,
            );
        }
    }

    fn route_timeouts(&mut self, r: &Route, who: &str) {
        let t = &r.timeouts;
        let connect = nonzero(&mut self.out, &t.connect, "connect timeout", who);
        let idle = nonzero(&mut self.out, &t.idle, "idle timeout", who);
        if let Some(total) = &t.total {
            if nonzero(&mut self.out, total, "total timeout", who) {
                for (other, ok, what) in [(&t.connect, connect, "connect"), (&t.idle, idle, "idle")] {
                    if ok && total.value < other.value {
                        self.out.push(
                            Diagnostic::error(
                                "timeout-order",
                                format!("{who} has a total timeout of {}, shorter than its {what} timeout of {}", fmt_duration(total.value), fmt_duration(other.value)),
                            )
                            .at(total.span.clone())
                            .label(format!("shorter than the {what} timeout"))
                            .hint(format!("the total covers the whole exchange, so it must be at least the {what} timeout; remove `total` to let long polls live")),
                        );
                    }
                }
            }
        }
        if connect && t.connect.value > Duration::from_secs(120) {
            self.out.push(
                Diagnostic::warning(
                    "timeout-order",
                    format!("{who} waits {} to connect to a member", fmt_duration(t.connect.value)),
                )
                .at(t.connect.span.clone())
                .hint("a connect timeout over 2 minutes delays failover; a few seconds is usual"),
            );
        }
    }

    fn certificate_covers(&mut self, listener: &Listener, host: &Spanned<String>, who: &str) {
        let t = self.t;
        let covered = listener
            .certificates
            .iter()
            .filter_map(|c| t.certificates.iter().find(|x| x.name.value == c.value))
            .any(|c| {
                // A certificate from files is checked against its SANs at start-up.
                c.cert.is_some() || c.names.iter().any(|n| name_covers(&n.value, &host.value))
            });
        if !covered {
            let names: Vec<&str> = listener.certificates.iter().map(|c| c.value.as_str()).collect();
            self.out.push(
                Diagnostic::error(
                    "host-not-covered",
                    format!(
                        "{who} serves {} on listener \"{}\", but no certificate there covers it",
                        host.value, listener.name.value
                    ),
                )
                .at(host.span.clone())
                .label("not in any certificate's names")
                .hint(format!(
                    "add \"{}\" to the names of certificate \"{}\"",
                    host.value,
                    names.join("\" or \"")
                )),
            );
        }
    }

    fn auth_providers(&mut self) {
        for p in &self.t.auth_providers {
            let who = format!("auth provider \"{}\"", p.name.value);
            let (needs, schemes): (bool, &[&str]) = match p.method.value {
                AuthMethod::Forms | AuthMethod::Basic => (true, &["ldap://", "ldaps://"]),
                AuthMethod::Saml => (true, &["https://"]),
                AuthMethod::ClientCertificate | AuthMethod::Negotiate => (false, &[]),
            };
            match &p.url {
                None if needs => self.out.push(
                    Diagnostic::error("missing-key", format!("{who} uses {} but has no `url`", p.method.value.keyword()))
                        .at(p.name.span.clone())
                        .hint(format!("add `url = \"{}...\"`", schemes[0])),
                ),
                Some(url) if needs && !schemes.iter().any(|s| url.value.starts_with(s)) => self.out.push(
                    Diagnostic::error("invalid-url", format!("{who} has a url that {} cannot use", p.method.value.keyword()))
                        .at(url.span.clone())
                        .label(format!("expected {}", schemes.join(" or ")))
                        .hint("forms and basic check passwords against a directory (ldap:// or ldaps://); saml reads the identity provider's metadata over https://"),
                ),
                _ => {}
            }
        }
    }

    fn user_types(&mut self) {
        let t = self.t;
        let zones = self.zone_names();
        let providers = Names::new(
            "auth provider",
            "auth_providers",
            t.auth_providers.iter().map(|p| p.name.as_str()),
        )
        .with_unusable(t);
        let published = published_names(t);
        let names: Vec<&str> = {
            let mut n: Vec<&str> = published.iter().map(|p| p.name.as_str()).collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        for u in &t.user_types {
            let who = format!("user type \"{}\"", u.name.value);
            if u.zones.is_empty() {
                self.out.push(
                    Diagnostic::error("no-zones", format!("{who} comes from no zone"))
                        .at(u.name.span.clone())
                        .hint("add `zones = [\"internet\"]`: where these users connect from"),
                );
            }
            for z in &u.zones {
                zones.check(&mut self.out, &format!("{who} comes from"), z);
            }
            for a in &u.auth {
                providers.check_with(&mut self.out, &format!("{who} signs in with"), a, &AuthPolicy::BUILT_IN);
            }
            if u.reaches.is_empty() {
                self.out.push(
                    Diagnostic::error(
                        "reaches-nothing",
                        format!("{who} can reach nothing: it lists no published names"),
                    )
                    .at(u.reaches_span.clone())
                    .hint("add `reaches = [\"mail.contoso.com\", ...]`: the names these users are meant to use"),
                );
                continue;
            }
            // A broken listener or route was reported already; judging reach
            // without it would only add noise.
            if t.unusable.iter().any(|(s, _)| *s == "listeners" || *s == "routes") {
                continue;
            }
            let mut reachable = 0;
            for r in &u.reaches {
                if !names.contains(&r.value.name.as_str()) {
                    let mut d = Diagnostic::error(
                        "unknown-reference",
                        format!(
                            "{who} reaches \"{}\", which no listener or route publishes",
                            r.value.name
                        ),
                    )
                    .at(r.span.clone());
                    d = match did_you_mean(&r.value.name, names.iter().copied()) {
                        Some(best) => d.label(format!("did you mean \"{best}\"?")),
                        None => d.label("not a published name"),
                    };
                    self.out.push(d.hint(
                        "published names are route `hosts`, listener `names` and DNS-balanced pools' `dns_name`",
                    ));
                    continue;
                }
                let open = published.iter().any(|p| {
                    p.name == r.value.name
                        && r.value.port.is_none_or(|port| p.ports.contains(port))
                        && u.zones.iter().any(|z| p.admits(&z.value))
                });
                if open {
                    reachable += 1;
                } else if u.zones.iter().all(|z| zones.contains(&z.value)) {
                    let port = r.value.port.map(|p| format!(" on port {p}")).unwrap_or_default();
                    self.out.push(
                        Diagnostic::warning(
                            "unreachable",
                            format!(
                                "{who} is meant to reach {}{port}, but no listener admits its zones",
                                r.value.name
                            ),
                        )
                        .at(r.span.clone())
                        .hint("add one of the user type's zones to the listener's (or route's) `zones`"),
                    );
                }
            }
            if reachable == 0 && u.zones.iter().all(|z| zones.contains(&z.value)) && !u.zones.is_empty() {
                self.out.push(
                    Diagnostic::error(
                        "reaches-nothing",
                        format!("{who} can reach nothing: no listener admits its zones for any name it lists"),
                    )
                    .at(u.reaches_span.clone())
                    .hint(format!(
                        "admit {} on the listeners that publish these names",
                        u.zones
                            .iter()
                            .map(|z| format!("\"{}\"", z.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
    }

    fn acl(&mut self) {
        let zones = self.zone_names();
        for (i, rule) in self.t.acl.iter().enumerate() {
            let who = match &rule.name {
                Some(n) => format!("ACL rule \"{n}\""),
                None => format!("ACL rule {}", i + 1),
            };
            if rule.from.is_empty() {
                self.out.push(
                    Diagnostic::error("missing-key", format!("{who} matches no source"))
                        .at(rule.span.clone())
                        .hint("add `from = [\"internet\"]` (zones) or prefixes such as \"198.51.100.0/24\""),
                );
            }
            for s in &rule.from {
                if let Source::Zone(z) = &s.value {
                    zones.check(
                        &mut self.out,
                        &format!("{who} matches"),
                        &Spanned::new(z.clone(), s.span.clone()),
                    );
                }
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
