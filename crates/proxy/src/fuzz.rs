//! Entry points for fuzzing the parsers that face untrusted bytes: the
//! smuggling guard's framing of client requests ([`guard`]), and the
//! backend response head and chunked decoders ([`response_head`],
//! [`chunked`]). `fuzz/` at the repository root runs them under cargo-fuzz;
//! `tests/fuzz_entries.rs` runs them on generated inputs in every test run.
//! Each panics when a promise of the code it drives is broken, which is
//! what a fuzzer looks for. Not an API.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::framing::{MAX_REQUEST_HEAD, MAX_REQUEST_HEADERS, POISON};
use crate::guard::SmugglingGuard;
use crate::wire::{self, Chunked, Decoded};

/// Bytes handed out in reads of the sizes `cuts` names in turn (1 to 256;
/// none: everything in one read), as a socket may.
struct Cut<'a> {
    data: &'a [u8],
    cuts: &'a [u8],
    turn: usize,
}

impl AsyncRead for Cut<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let want = match self.cuts {
            [] => self.data.len(),
            cuts => usize::from(cuts[self.turn % cuts.len()]) + 1,
        };
        let n = want.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.turn += 1;
        Poll::Ready(Ok(()))
    }
}

/// Runs a future whose I/O is all in memory, so it never waits.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// What hyper reads through the smuggling guard when a client sends
/// `data` in reads cut as `cuts` says.
pub fn through_guard(data: &[u8], cuts: &[u8]) -> Vec<u8> {
    run(async {
        let mut guard = SmugglingGuard::new(Cut { data, cuts, turn: 0 });
        let mut out = Vec::new();
        // An error ends the stream, as it ends the connection.
        let _ = guard.read_to_end(&mut out).await;
        out
    })
}

/// The guard's promises on one input:
/// - what hyper reads does not depend on how the bytes arrived;
/// - every request head hyper gets to parse has one unambiguous framing
///   (at most one `Content-Length` and no `Transfer-Encoding` beside it, or
///   exactly `Transfer-Encoding: chunked`), read here by an oracle written
///   apart from the guard: httparse for heads and chunk sizes.
pub fn guard(data: &[u8], cuts: &[u8]) {
    let whole = messages(&through_guard(data, &[]));
    let cut = messages(&through_guard(data, cuts));
    // Compared as the requests hyper would act on: past a head too large
    // for either, how many bytes hyper is given does not matter (it stops
    // at its limit), and that count may depend on the reads.
    assert_eq!(whole, cut, "the requests hyper reads depend on how the bytes arrived");
}

/// Walks the bytes hyper would read, message by message, asserting each
/// head hyper would act on is unambiguous; returns the messages (head and
/// body) up to the first that hyper would refuse or wait on.
fn messages(mut out: &[u8]) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    loop {
        let start = out;
        let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(out) {
            Ok(httparse::Status::Complete(len)) if len <= MAX_REQUEST_HEAD => len,
            // Partial, too long or unparsable: hyper refuses or waits.
            _ => return seen,
        };
        if out == POISON {
            return seen;
        }
        let (mut lengths, mut length, mut codings, mut chunked, mut upgrade) = (0, 0u64, 0, false, false);
        upgrade |= req.method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                lengths += 1;
                length = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("an unparsable Content-Length passed: {:?}", h.value));
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                codings += 1;
                chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        assert!(
            lengths <= 1 && codings <= 1 && !(lengths == 1 && codings == 1) && (codings == 0 || chunked),
            "an ambiguous head passed: {:?}",
            String::from_utf8_lossy(&out[..len])
        );
        out = &out[len..];
        let rest = if upgrade {
            None
        } else if chunked {
            skip_chunked(out)
        } else {
            usize::try_from(length).ok().and_then(|n| out.get(n..))
        };
        let Some(rest) = rest else {
            // A body that does not end (or a tunnel): how much of it
            // streams on before the connection fails depends on the reads,
            // as it does through any proxy. The head is what counts.
            seen.push(start[..len].to_vec());
            return seen;
        };
        seen.push(start[..start.len() - rest.len()].to_vec());
        out = rest;
    }
}

/// The bytes after a chunked body, or `None` where it does not end.
fn skip_chunked(mut b: &[u8]) -> Option<&[u8]> {
    loop {
        let (used, size) = match httparse::parse_chunk_size(b) {
            Ok(httparse::Status::Complete(x)) => x,
            _ => return None,
        };
        b = &b[used..];
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let end = b.windows(2).position(|w| w == b"\r\n")?;
                b = &b[end + 2..];
                if end == 0 {
                    return Some(b);
                }
            }
        }
        let size = usize::try_from(size).ok()?;
        b = b.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// The backend response-head parser on arbitrary bytes: never a panic; a
/// head it accepts consumed bytes, and parsing the same bytes again gives
/// the same answer.
pub fn response_head(data: &[u8]) {
    for method in [Method::GET, Method::HEAD] {
        let mut a = BytesMut::from(data);
        let first = wire::parse_response_head(&mut a, &method);
        let mut b = BytesMut::from(data);
        let again = wire::parse_response_head(&mut b, &method);
        match (&first, &again) {
            (Ok(Some(x)), Ok(Some(y))) => {
                assert!(a.len() < data.len(), "a head was parsed from no bytes");
                assert_eq!((x.status, x.framing, x.keep_alive), (y.status, y.framing, y.keep_alive));
                if method == Method::HEAD {
                    assert_eq!(x.framing, wire::Incoming::Empty, "a body after HEAD");
                }
            }
            (Ok(None), Ok(None)) => assert_eq!(a.len(), data.len(), "bytes consumed without a head"),
            (Err(_), Err(_)) => {}
            _ => panic!("two parses of the same bytes disagree"),
        }
    }
}

/// The chunked decoder on arbitrary bytes, fed whole and cut as `cuts`
/// says: never a panic, and the same data, trailers and end either way.
pub fn chunked(data: &[u8], cuts: &[u8]) {
    assert_eq!(
        decode_all(data, &[]),
        decode_all(data, cuts),
        "decoding depends on how the bytes arrived"
    );
}

/// Everything the decoder produced, with how it stopped.
fn decode_all(data: &[u8], cuts: &[u8]) -> (Vec<u8>, Vec<String>, &'static str) {
    let (mut state, mut buf, mut body, mut trailers) = (Chunked::Size, BytesMut::new(), Vec::new(), Vec::new());
    let (mut rest, mut turn) = (data, 0);
    loop {
        match wire::decode_chunked(&mut state, &mut buf) {
            Ok(Decoded::Data(d)) => body.extend_from_slice(&d),
            Ok(Decoded::Trailers(t)) => {
                trailers.extend(t.iter().map(|(k, v)| format!("{k}: {v:?}")));
                return (body, trailers, "trailers");
            }
            Ok(Decoded::End) => return (body, trailers, "end"),
            Ok(Decoded::NeedMore) if rest.is_empty() => return (body, trailers, "incomplete"),
            Ok(Decoded::NeedMore) => {
                let n = match cuts {
                    [] => rest.len(),
                    cuts => (usize::from(cuts[turn % cuts.len()]) + 1).min(rest.len()),
                };
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                turn += 1;
            }
            Err(e) => return (body, trailers, e.0),
        }
    }
}
