//! What every request on one client connection shares ([`ConnCtx`]), and
//! the loop that runs a connection until it ends or shutdown ends it
//! ([`drive`]). A leaf of the request path: the connection, the phases and
//! the HTTP/2 server all use it, and it uses none of them.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::access::{dash, AccessRecord};
use crate::backend::BackendConn;
use crate::client::{Client, Origin};
use crate::headers::ClientHeaders;
use crate::shared::Shared;
use crate::state::{ListenerState, PlanState};
use crate::upstream::Target;

/// The backend connection a client connection is pinned to.
pub(crate) struct Pinned {
    pub target: Target,
    pub member: usize,
    pub conn: Box<BackendConn>,
}

/// What every request on one client connection shares.
pub(crate) struct ConnCtx {
    pub shared: Arc<Shared>,
    pub plan: Arc<PlanState>,
    pub listener: Arc<ListenerState>,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The connection's client: the peer, or the address a trusted peer's
    /// PROXY header named. Requests may say otherwise under
    /// [`Origin::ForwardedFor`]; see [`crate::phases::client`].
    pub client: IpAddr,
    pub origin: Origin,
    pub h2: bool,
    /// The TLS server name the client sent, lower-case, kept only where
    /// the listener is `strict_sni`.
    pub sni: Option<Box<str>>,
    /// `client`'s forwarding headers, rendered once.
    pub client_headers: ClientHeaders,
    /// Set once NTLM/Negotiate is seen (HTTP/1.1 only).
    pub pinned: Mutex<Option<Pinned>>,
}

impl ConnCtx {
    /// An access record for a request, before its outcome is known.
    pub fn record(
        &self,
        client: &Client,
        method: &http::Method,
        host: Arc<str>,
        route: Arc<str>,
        status: u16,
    ) -> AccessRecord {
        AccessRecord {
            client: client.addr,
            via: client.via,
            zone: self.plan.zone_names[client.zone.0 as usize].clone(),
            listener: self.listener.name.clone(),
            route,
            member: dash(),
            method: method.clone(),
            host,
            status,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            pinned: false,
            user: None,
            outcome: None,
        }
    }
}

impl ConnCtx {
    /// Logs a request refused before it was a request: its head did not
    /// parse, or its framing was ambiguous. Method, host and route are `-`.
    pub(crate) fn log_unparsed(&self, status: u16, why: &'static str) {
        let peer = self.peer.ip().to_canonical();
        let zone = match self.origin {
            Origin::Connection(zone) => zone,
            // A trusted proxy's client is in the head that did not parse.
            Origin::ForwardedFor => self.plan.plan.classify(peer),
        };
        let client = Client {
            addr: self.client,
            zone,
            via: (self.client != peer).then_some(peer),
            chain: None,
        };
        let unknown = http::Method::from_bytes(b"-").unwrap_or_default();
        let mut r = self.record(&client, &unknown, dash(), dash(), status);
        r.outcome = Some(why);
        self.shared.access_log.log(&r);
    }
}

/// Runs a client connection, starting a graceful shutdown when asked and
/// dropping it when the shutdown deadline passes. Returns the error the
/// connection ended with, if it ended with one.
pub(crate) async fn drive<C, E>(shared: &Shared, conn: C, graceful: impl Fn(std::pin::Pin<&mut C>)) -> Option<E>
where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut stop = shared.stop.subscribe();
    tokio::pin!(conn);
    let mut asked = false;
    loop {
        let level = *stop.borrow_and_update();
        if level >= 2 {
            return None;
        }
        if level == 1 && !asked {
            asked = true;
            graceful(conn.as_mut());
        }
        tokio::select! {
            r = conn.as_mut() => {
                let e = r.err()?;
                tracing::debug!("client connection ended: {e}");
                return Some(e);
            }
            changed = stop.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
        }
    }
}
