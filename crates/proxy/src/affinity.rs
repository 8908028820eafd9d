//! Cookie affinity: a `gatehouse-<pool>` cookie whose value is an HMAC of
//! the pool and member, so it names the member without revealing its address
//! and cannot be forged to pick another. Set HttpOnly, Secure (on https),
//! SameSite=Lax, Path=/. The cookie is removed from the request the backend
//! sees: it is gatehouse's, not the application's.

use gatehouse_model::topology::Pool;
use gatehouse_runtime::{Member, Pool as Members};
use http::header::{self, HeaderMap, HeaderValue};
use ring::hmac;

/// Signs and recognises affinity cookies.
pub(crate) struct CookieSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.write_str("CookieSigner")
    }
}

impl CookieSigner {
    /// A signer with the given secret, or a random one.
    pub fn new(secret: Option<&[u8]>) -> CookieSigner {
        let key = match secret {
            Some(s) => hmac::Key::new(hmac::HMAC_SHA256, s),
            None => {
                let rng = ring::rand::SystemRandom::new();
                hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("the system has randomness")
            }
        };
        CookieSigner { key }
    }

    pub fn cookie_name(pool: &Pool) -> String {
        format!("gatehouse-{}", pool.name.value)
    }

    fn token(&self, pool: &str, m: &Member) -> String {
        let msg = format!("{}|{}|{}", pool, m.host(), m.port().unwrap_or(0));
        let tag = hmac::sign(&self.key, msg.as_bytes());
        tag.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The member the request's affinity cookie names, if it names one of
    /// this pool's members in service (`members`): its index there.
    pub fn member_from(&self, headers: &HeaderMap, pool: &Pool, members: &Members) -> Option<usize> {
        let name = Self::cookie_name(pool);
        let value = cookies(headers).find(|(n, _)| *n == name).map(|(_, v)| v)?;
        members.members().iter().position(|m| {
            let t = self.token(&pool.name.value, m);
            crate::tls::same_bytes(t.as_bytes(), value.as_bytes())
        })
    }

    /// The `Set-Cookie` value that sends later requests to `member`.
    pub fn set_cookie(&self, pool: &Pool, member: &Member, secure: bool) -> HeaderValue {
        let mut v = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax",
            Self::cookie_name(pool),
            self.token(&pool.name.value, member)
        );
        // Browsers drop Secure cookies set over plain HTTP; plain routes
        // (Lync discovery on port 80) get the cookie without it.
        if secure {
            v.push_str("; Secure");
        }
        HeaderValue::from_str(&v).expect("cookie is ASCII")
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (n, v) = c.trim().split_once('=')?;
            Some((n.trim(), v.trim()))
        })
}

/// Removes the pool's affinity cookie from the request's `Cookie` headers.
pub(crate) fn strip_cookie(headers: &mut HeaderMap, pool: &Pool) {
    let name = CookieSigner::cookie_name(pool);
    if !cookies(headers).any(|(n, _)| n == name) {
        return;
    }
    let kept: Vec<String> = cookies(headers)
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}
