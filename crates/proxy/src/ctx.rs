//! What every request on one client connection shares ([`ConnCtx`]), and
//! the loop that runs a connection until it ends or shutdown ends it
//! ([`drive`]). A leaf of the request path: the connection, the phases and
//! the HTTP/2 server all use it, and it uses none of them.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use crate::backend::BackendConn;
use crate::client::Origin;
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
