//! Streams a proxied TCP connection both ways until it ends.
//!
//! - **Half-close**: when one side sends FIN, the other side's write half
//!   is shut down and the opposite direction keeps flowing until it ends
//!   too (SMTP `QUIT`, a client that half-closes after its request).
//! - **Resets**: when either side resets (or fails), the other side is
//!   reset as well, so a client sees its member die instead of a clean EOF.
//! - **Idle timeout**: no byte in either direction for the VIP's
//!   `idle_timeout` closes both sides.
//! - **Memory**: each direction holds a buffer only while data is moving;
//!   an idle connection holds none, so 10,000 idle connections cost
//!   sockets, not 640 MB of buffers. Buffers are never zeroed: reads go
//!   into spare capacity.

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use socket2::SockRef;
use tokio::net::TcpStream;

use crate::time::{instant_of, now_nanos};

/// How a forwarded connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Both sides closed cleanly.
    Closed,
    /// The client reset or failed; the backend was reset.
    ClientReset,
    /// The backend reset or failed; the client was reset.
    BackendReset,
    IdleTimeout,
    /// Closed by the end of a graceful shutdown.
    Shutdown,
}

/// Where bytes are counted: VIP and member, per direction.
pub(crate) struct Counters<'a> {
    pub(crate) vip_in: &'a AtomicU64,
    pub(crate) vip_out: &'a AtomicU64,
    pub(crate) member_in: &'a AtomicU64,
    pub(crate) member_out: &'a AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Backend,
}

/// Forwards until both directions end, one side resets, the connection is
/// idle for `idle`, or `shutdown` completes. Resets the surviving side on a
/// reset; leaves clean closing to the caller's drop.
pub(crate) async fn forward(
    client: &TcpStream,
    backend: &TcpStream,
    idle: Duration,
    buffer: usize,
    counters: &Counters<'_>,
    shutdown: impl Future<Output = ()>,
) -> Ending {
    let activity = AtomicU64::new(now_nanos());
    let finished = AtomicBool::new(false);
    let up = pump(
        client,
        backend,
        Side::Client,
        buffer,
        &activity,
        &finished,
        counters.vip_in,
        counters.member_in,
    );
    let down = pump(
        backend,
        client,
        Side::Backend,
        buffer,
        &activity,
        &finished,
        counters.vip_out,
        counters.member_out,
    );
    tokio::pin!(up, down, shutdown);
    let idle_nanos = idle.as_nanos() as u64;
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    let (mut up_done, mut down_done) = (false, false);
    let ending = loop {
        tokio::select! {
            r = &mut up, if !up_done => match r {
                Ok(()) => up_done = true,
                Err(side) => break reset_ending(side),
            },
            r = &mut down, if !down_done => match r {
                Ok(()) => down_done = true,
                Err(side) => break reset_ending(side),
            },
            _ = &mut timer => {
                let last = activity.load(Ordering::Relaxed);
                let deadline = last + idle_nanos;
                if now_nanos() >= deadline {
                    break Ending::IdleTimeout;
                }
                timer.as_mut().reset(instant_of(deadline).into());
            }
            _ = &mut shutdown => break Ending::Shutdown,
        }
        if up_done && down_done {
            break Ending::Closed;
        }
    };
    match ending {
        Ending::ClientReset => reset(backend),
        Ending::BackendReset => reset(client),
        _ => {}
    }
    ending
}

fn reset_ending(side: Side) -> Ending {
    match side {
        Side::Client => Ending::ClientReset,
        Side::Backend => Ending::BackendReset,
    }
}

/// Makes the socket send RST instead of FIN when it is closed.
pub(crate) fn reset(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Copies `from` → `to` until EOF (then shuts down `to`'s write half,
/// unless the other direction has already ended: the close that follows
/// sends that FIN, and a shutdown would cost a syscall per connection).
/// Errors name the side that failed.
#[allow(clippy::too_many_arguments)]
async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    from_side: Side,
    size: usize,
    activity: &AtomicU64,
    finished: &AtomicBool,
    vip: &AtomicU64,
    member: &AtomicU64,
) -> Result<(), Side> {
    let to_side = match from_side {
        Side::Client => Side::Backend,
        Side::Backend => Side::Client,
    };
    let mut buf: Vec<u8> = Vec::new();
    loop {
        from.readable().await.map_err(|_| from_side)?;
        if buf.capacity() == 0 {
            buf = Vec::with_capacity(size);
        }
        buf.clear();
        match from.try_read_buf(&mut buf) {
            Ok(0) => {
                // FIN from `from`: pass it on. The peer may already be gone
                // (ENOTCONN); the other direction will find out.
                if !finished.swap(true, Ordering::AcqRel) {
                    let _ = SockRef::from(to).shutdown(Shutdown::Write);
                }
                return Ok(());
            }
            Ok(n) => {
                write_all(to, &buf[..n]).await.map_err(|_| to_side)?;
                activity.store(now_nanos(), Ordering::Relaxed);
                vip.fetch_add(n as u64, Ordering::Relaxed);
                member.fetch_add(n as u64, Ordering::Relaxed);
            }
            // Drained: give the buffer back while this direction is quiet.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => buf = Vec::new(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(from_side),
        }
    }
}

pub(crate) async fn write_all(to: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        to.writable().await?;
        match to.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
