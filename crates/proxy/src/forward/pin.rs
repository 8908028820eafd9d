//! NTLM/Negotiate pinning and upgrades: what a request and its response
//! head decide about the backend connection beyond this exchange.
//!
//! - Pinning (HTTP/1.1 clients): a request carrying `Authorization:
//!   NTLM|Negotiate` goes over a new dedicated connection, and a 401 with
//!   `WWW-Authenticate: NTLM|Negotiate` dedicates the connection it came
//!   on. From then on the client connection's requests to that member use
//!   that backend connection only; it is never pooled and closes with the
//!   client connection. A request to a different member goes the ordinary
//!   way (and re-pins if it carries NTLM itself).
//! - HTTP/2 clients: connection-bound authentication cannot work over
//!   multiplexed streams, so such a stream is reset with
//!   `HTTP_1_1_REQUIRED`, as IIS does; browsers and curl retry over HTTP/1.1.
//! - Upgrades: a WebSocket `Upgrade` the route allows becomes a tunnel when
//!   the backend switches protocols ([`crate::tunnel`]); a 101 nobody
//!   asked for is refused.

use std::time::Duration;

use http::header::{self, HeaderMap};
use http::StatusCode;
use hyper::upgrade::OnUpgrade;

use crate::backend::{BackendBody, BackendConn, Upload};
use crate::completion::AfterUse;
use crate::ctx::ConnCtx;
use crate::error::BoxError;
use crate::headers::is_connection_auth;
use crate::upstream::Target;
use crate::wire::ResponseHead;

/// The answer that makes an HTTP/2 client retry over HTTP/1.1.
pub(crate) fn http11_required() -> BoxError {
    Box::new(h2::Error::from(h2::Reason::HTTP_1_1_REQUIRED))
}

/// Whether the request asks for a pinned connection: it carries
/// connection-bound authentication.
pub(crate) fn wants_pin(headers: &HeaderMap) -> bool {
    headers.get_all(header::AUTHORIZATION).iter().any(is_connection_auth)
}

/// The request's `Upgrade`: why it is refused (400), or whether it asks
/// for a tunnel.
pub(crate) fn upgrade(headers: &HeaderMap, h2: bool, websocket: bool) -> (Option<&'static str>, bool) {
    let refused = crate::tunnel::refusal(headers, h2, websocket);
    let wanted = refused.is_none() && !h2 && headers.contains_key(header::UPGRADE);
    (refused, wanted)
}

/// What becomes of the backend connection once the response ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// It carries a tunnel, then closes.
    Tunnel,
    /// It goes back to the client connection (NTLM/Negotiate).
    Pin,
    /// It goes back to the idle pool.
    Pool,
}

/// Why a response head is not passed on.
pub(crate) enum Refused {
    /// The backend asks for NTLM/Negotiate over HTTP/2.
    Http11Required,
    /// A 101 to a request that asked for no WebSocket (502).
    Unasked101,
}

/// Decides, on the response head, what the connection becomes, and
/// whether the exchange counts as pinned (for the record, tunnels too).
/// `pinned`: the request pins, or came over a pinned connection.
pub(crate) fn decide(head: &ResponseHead, upgrade: bool, h2: bool, pinned: bool) -> Result<(Keep, bool), Refused> {
    let status = head.status;
    let backend_wants_pin = status == StatusCode::UNAUTHORIZED
        && head
            .headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .any(is_connection_auth);
    if backend_wants_pin && h2 {
        return Err(Refused::Http11Required);
    }
    let tunnel =
        upgrade && status == StatusCode::SWITCHING_PROTOCOLS && crate::tunnel::switched_to_websocket(&head.headers);
    if status == StatusCode::SWITCHING_PROTOCOLS && !tunnel {
        return Err(Refused::Unasked101);
    }
    let pin = pinned || backend_wants_pin;
    let keep = if tunnel {
        Keep::Tunnel
    } else if pin {
        Keep::Pin
    } else {
        Keep::Pool
    };
    Ok((keep, pin))
}

/// Where the connection goes after a clean completion.
pub(crate) fn after_use(keep: Keep, target: Target, member: usize) -> AfterUse {
    match keep {
        Keep::Tunnel => AfterUse::Close,
        Keep::Pin => AfterUse::Pin { target, member },
        Keep::Pool => AfterUse::Pool(target),
    }
}

/// The backend's response body, read off the connection; or, for a
/// tunnel, none, the connection going to a tunnel task of its own.
pub(crate) fn backend_body(
    keep: Keep,
    conn: Box<BackendConn>,
    head: &ResponseHead,
    upload: Upload,
    client_upgrade: Option<OnUpgrade>,
    ctx: &ConnCtx,
    idle: Duration,
) -> BackendBody {
    if keep != Keep::Tunnel {
        return BackendBody::new(conn, head, upload);
    }
    if let Some(client_upgrade) = client_upgrade {
        tokio::spawn(crate::tunnel::run(ctx.shared.clone(), client_upgrade, conn, idle));
    }
    BackendBody::none()
}
