//! Checks on listeners (VIPs) and the routes on web listeners.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

impl Validator<'_> {
    pub(super) fn listeners(&mut self) {
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
            if proto != Protocol::Https {
                // Both speak of TLS: a server name to compare, a header that
                // means something only when it arrived over TLS.
                let written = [
                    l.strict_sni.as_ref().map(|s| ("strict_sni", s.span.clone())),
                    l.hsts.as_ref().map(|h| ("hsts", h.span.clone())),
                ];
                for (key, span) in written.into_iter().flatten() {
                    self.out.push(
                        Diagnostic::warning("ignored-key", format!("{who} is not https; its `{key}` is not used"))
                            .at(span)
                            .hint(format!("set `protocol = \"https\"`, or remove `{key}`")),
                    );
                }
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
            self.trusted_proxies(l, &who);
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

    pub(super) fn routes(&mut self) {
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
        let user_types = Names::new("user type", "user_types", t.user_types.iter().map(|u| u.name.as_str()));
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
            for u in &r.user_types {
                user_types.check(&mut self.out, &format!("{who} is published for"), u);
            }
            for (z, policy) in &r.auth {
                zones.check(&mut self.out, &format!("{who} sets the auth of"), z);
                self.auth_policy(&providers, &who, policy);
                self.auth_enforced(&who, &format!("zone \"{}\"", z.value), policy);
            }
            self.auth_policy(&providers, &who, &r.auth_default);
            self.auth_enforced(&who, "the zones not named in its `auth`", &r.auth_default);
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

    /// A provider gatehouse does not enforce refuses every request it
    /// covers (see [`crate::admission`]): valid, but worth saying.
    fn auth_enforced(&mut self, who: &str, zones: &str, policy: &Spanned<AuthPolicy>) {
        if let crate::Admission::SignInUnavailable {
            provider,
            method: Some(method),
        } = self.t.admission(&policy.value)
        {
            let method = method.keyword();
            self.out.push(
                Diagnostic::warning(
                    "pre-authentication-not-enforced",
                    format!("{who} pre-authenticates {zones} with {provider} ({method}), which gatehouse does not enforce yet: those requests are refused with 503"),
                )
                .at(policy.span.clone())
                .label(format!("{method} sign-in is not enforced yet"))
                .hint(format!("until gatehouse enforces {method}, every request this policy covers is refused; write \"pass-through\" to let the backend authenticate, or keep \"{provider}\" to stay closed")),
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

    /// `trusted_proxies` and `client_address` go together, and the address
    /// must be one the listener's protocol can carry.
    fn trusted_proxies(&mut self, l: &Listener, who: &str) {
        match (&l.client_address, l.trusted_proxies.is_empty()) {
            (Some(c), true) => self.out.push(
                Diagnostic::error("missing-key", format!("{who} takes the client address from {} but trusts no proxy", c.value.keyword()))
                    .at(c.span.clone())
                    .label("anyone could then claim any address")
                    .hint("add `trusted_proxies = [\"...\"]`: the load balancers in front of this listener"),
            ),
            (None, false) => self.out.push(
                Diagnostic::error("missing-key", format!("{who} trusts proxies but does not say how they tell the client address"))
                    .at(l.trusted_proxies[0].span.clone())
                    .hint("add `client_address = \"proxy-protocol\"` or `client_address = \"x-forwarded-for\"` (web listeners)"),
            ),
            (Some(c), false) => {
                let fits = match c.value {
                    ClientAddress::ProxyProtocol => l.protocol.value != Protocol::Udp,
                    ClientAddress::XForwardedFor => l.protocol.value.is_http(),
                };
                if !fits {
                    self.out.push(
                        Diagnostic::error("invalid-value", format!("{who} is {} and cannot carry {}", l.protocol.value.keyword(), c.value.keyword()))
                            .at(c.span.clone())
                            .hint("X-Forwarded-For needs an http or https listener; the PROXY protocol a tcp, http or https one"),
                    );
                }
            }
            (None, true) => {}
        }
    }
}
