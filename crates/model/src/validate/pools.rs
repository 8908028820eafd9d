//! Checks on pools, their members and health checks.

use std::collections::HashMap;

use super::*;

impl Validator<'_> {
    pub(super) fn pools(&mut self) {
        let t = self.t;
        let services = Names::new("service", "services", t.services.iter().map(|s| s.name.as_str())).with_unusable(t);
        for p in &t.pools {
            services.check(
                &mut self.out,
                &format!("pool \"{}\" belongs to", p.name.value),
                &p.service,
            );
            let members_reported = t
                .unusable
                .iter()
                .any(|(s, n)| *s == "pool-members" && *n == p.name.value);
            if p.members.is_empty() && !members_reported {
                self.out.push(
                    Diagnostic::error("empty-pool", format!("pool \"{}\" has no members", p.name.value))
                        .at(p.members_span.clone())
                        .label("a pool needs at least one member")
                        .hint("add `members = [\"10.0.2.11:443\"]`"),
                );
            } else if !p.members.is_empty() && p.members.iter().all(|m| m.backup) {
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
            if let Some(tls) = &p.tls {
                self.backend_tls(p, tls);
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

    fn backend_tls(&mut self, p: &Pool, tls: &BackendTls) {
        let t = self.t;
        let who = format!("the backend TLS of pool \"{}\"", p.name.value);
        match &tls.verify {
            BackendVerify::SameAs(cert) => {
                let certs = Names::new(
                    "certificate",
                    "certificates",
                    t.certificates.iter().map(|c| c.name.as_str()),
                );
                certs.check(&mut self.out, &format!("{who} trusts"), cert);
            }
            BackendVerify::Fingerprint(hex) => {
                let digits: String = hex.value.chars().filter(|c| *c != ':').collect();
                if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                    self.out.push(
                        Diagnostic::error(
                            "invalid-fingerprint",
                            format!("{who} pins \"{}\", which is not a SHA-256 fingerprint", hex.value),
                        )
                        .at(hex.span.clone())
                        .label("expected 64 hex digits, colons allowed")
                        .hint("print it with `openssl x509 -noout -fingerprint -sha256 -in member.pem`"),
                    );
                }
            }
            BackendVerify::CaBundle(_) => {}
        }
        if let Some(name) = &tls.server_name {
            check_host_name(&mut self.out, name, false);
        }
        let on_web = t.routes.iter().any(|r| r.pool.value == p.name.value);
        if !on_web {
            self.out.push(
                Diagnostic::warning(
                    "ignored-key",
                    format!("pool \"{}\" has backend TLS but no route uses it", p.name.value),
                )
                .at(tls.span.clone())
                .hint("backend TLS applies to web routes; L4 VIPs pass TLS through untouched"),
            );
        }
    }
}
