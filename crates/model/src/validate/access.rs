//! Checks on who gets in: auth providers, user types and the gateway ACL.

use super::*;
use crate::diag::did_you_mean;

impl Validator<'_> {
    pub(super) fn auth_providers(&mut self) {
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

    pub(super) fn user_types(&mut self) {
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
            let mut unreachable = Vec::new();
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
                    unreachable.push(
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
            if reachable > 0 {
                self.out.extend(unreachable);
            } else if u.zones.iter().all(|z| zones.contains(&z.value))
                && !u.zones.is_empty()
                && u.reaches.iter().any(|r| names.contains(&r.value.name.as_str()))
            {
                // One error says it all; a warning per name would repeat it.
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

    pub(super) fn acl(&mut self) {
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
