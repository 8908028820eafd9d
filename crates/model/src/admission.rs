//! What the admit phase does with a request under a route's auth policy.
//!
//! One answer for everybody: the proxy acts on it, `check` warns from it,
//! and `explain` and `verify` report it, so the four cannot disagree.
//! A route that names a provider whose method gatehouse does not enforce
//! fails closed: forwarding such requests would publish the backend with no
//! sign-in at all, which is the opposite of what the topology asks for.

use crate::topology::{AuthMethod, AuthPolicy, Topology};

/// What the admit phase does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission<'t> {
    /// `anonymous` or `pass-through`: on to the pool; the backend decides.
    Forward,
    /// `deny`: refused with 403.
    Deny,
    /// A provider whose method gatehouse does not enforce (or a provider
    /// that is not defined, which `check` rejects): refused with 503,
    /// sign-in unavailable. Nothing reaches the pool.
    SignInUnavailable {
        provider: &'t str,
        /// `None` when no such provider is defined.
        method: Option<AuthMethod>,
    },
}

impl Admission<'_> {
    /// True when the request goes on to the pool.
    pub fn forwards(self) -> bool {
        self == Admission::Forward
    }
}

impl Topology {
    /// What admit does under `policy`.
    pub fn admission<'t>(&'t self, policy: &'t AuthPolicy) -> Admission<'t> {
        match policy {
            AuthPolicy::Anonymous | AuthPolicy::PassThrough => Admission::Forward,
            AuthPolicy::Deny => Admission::Deny,
            AuthPolicy::Provider(name) => {
                let method = self
                    .auth_providers
                    .iter()
                    .find(|p| p.name.value == *name)
                    .map(|p| p.method.value);
                // No method is enforced yet, so every provider refuses. The
                // work that enforces a method adds its own variant for it
                // here, which lifts the refusal for that method alone.
                Admission::SignInUnavailable { provider: name, method }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_method_refuses_until_gatehouse_enforces_it() {
        let mut t = crate::check(crate::CONTOSO).plan.unwrap().topology;
        let corp_forms = AuthPolicy::Provider("corp-forms".into());
        for (_, method) in AuthMethod::ALL {
            t.auth_providers
                .iter_mut()
                .find(|p| p.name.value == "corp-forms")
                .unwrap()
                .method
                .value = method;
            assert_eq!(
                t.admission(&corp_forms),
                Admission::SignInUnavailable {
                    provider: "corp-forms",
                    method: Some(method)
                }
            );
        }
        let undefined = AuthPolicy::Provider("nobody".into());
        assert_eq!(
            t.admission(&undefined),
            Admission::SignInUnavailable {
                provider: "nobody",
                method: None
            }
        );
        assert_eq!(t.admission(&AuthPolicy::PassThrough), Admission::Forward);
        assert_eq!(t.admission(&AuthPolicy::Anonymous), Admission::Forward);
        assert_eq!(t.admission(&AuthPolicy::Deny), Admission::Deny);
    }
}
