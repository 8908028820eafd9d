//! The smuggling guard's framing, with no I/O: where each HTTP/1.1
//! request head ends, whether its framing is unambiguous, and where its
//! body ends, over bytes as they arrive. [`crate::guard::SmugglingGuard`]
//! runs it on a client socket; [`crate::fuzz`] runs it on fuzzed bytes.

use std::io;

use bytes::BytesMut;

/// Longest request head, on HTTP/1.1 (hyper's `max_buf_size`, which answers
/// 431 past it, and this guard) and HTTP/2 (the header list). Large enough
/// for a Kerberos ticket of a user in many groups: up to 48 KB of token,
/// about 64 KiB once base64-encoded (IIS's MaxFieldLength is 65534).
pub(crate) const MAX_REQUEST_HEAD: usize = 128 * 1024;
/// Most header fields in a request head, for this guard and hyper alike
/// (hyper answers 431 past it).
pub(crate) const MAX_REQUEST_HEADERS: usize = 100;
/// A head hyper rejects with 400: 0x7f is not a token character.
pub(crate) const POISON: &[u8] = b"\x7f / HTTP/1.1\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Head,
    Length(u64),
    Chunked(Chunk),
    /// Upgrade or CONNECT: pass bytes on.
    Passthrough,
    /// After a poisoned head: hyper gets end-of-file once it has read it.
    Closed,
}

/// Mirrors hyper's chunked decoder states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    Size { size: u64, digits: u8 },
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Body(u64),
    BodyCr,
    BodyLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What a complete head means for the bytes after it.
enum Verdict {
    Framing(State),
    Reject,
}

fn judge(headers: &[httparse::Header<'_>], method: Option<&str>) -> Verdict {
    let mut lengths = 0;
    let mut length = 0u64;
    let mut encodings = 0;
    let mut chunked = false;
    let mut upgrade = method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
            match (v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty())
                .then(|| v.parse::<u64>().ok())
                .flatten()
            {
                Some(n) => length = n,
                None => return Verdict::Reject,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encodings += 1;
            chunked = std::str::from_utf8(h.value).is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = true;
        }
    }
    if lengths > 1 || encodings > 1 || (lengths > 0 && encodings > 0) || (encodings == 1 && !chunked) {
        return Verdict::Reject;
    }
    Verdict::Framing(if upgrade {
        State::Passthrough
    } else if chunked {
        State::Chunked(Chunk::Size { size: 0, digits: 0 })
    } else if length > 0 {
        State::Length(length)
    } else {
        State::Head
    })
}

/// Consumes body bytes; returns how many belonged to the body. Stops at the
/// end of the message (the state is then `Head`).
pub(crate) fn scan_body(state: &mut State, data: &[u8]) -> io::Result<usize> {
    let mut i = 0;
    while i < data.len() {
        match state {
            State::Length(n) => {
                let take = (*n).min((data.len() - i) as u64);
                i += take as usize;
                *n -= take;
                if *n == 0 {
                    *state = State::Head;
                    return Ok(i);
                }
            }
            State::Chunked(c) => {
                if let Chunk::Body(n) = c {
                    let take = (*n).min((data.len() - i) as u64);
                    i += take as usize;
                    *n -= take;
                    if *n == 0 {
                        *c = Chunk::BodyCr;
                    }
                    continue;
                }
                let b = data[i];
                i += 1;
                *c = match (*c, b) {
                    (Chunk::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                        if digits >= 16 {
                            return Err(invalid("chunk size too large"));
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        Chunk::Size {
                            size: size * 16 + d,
                            digits: digits + 1,
                        }
                    }
                    (Chunk::Size { size, digits }, b' ' | b'\t') if digits > 0 => Chunk::SizeLws(size),
                    (Chunk::Size { size, digits }, b';') if digits > 0 => Chunk::Extension(size),
                    (Chunk::Size { size, digits }, b'\r') if digits > 0 => Chunk::SizeLf(size),
                    (Chunk::SizeLws(s), b' ' | b'\t') => Chunk::SizeLws(s),
                    (Chunk::SizeLws(s), b';') => Chunk::Extension(s),
                    (Chunk::SizeLws(s), b'\r') => Chunk::SizeLf(s),
                    (Chunk::Extension(_), b'\n') => return Err(invalid("newline in chunk extension")),
                    (Chunk::Extension(s), b'\r') => Chunk::SizeLf(s),
                    (Chunk::Extension(s), _) => Chunk::Extension(s),
                    (Chunk::SizeLf(0), b'\n') => Chunk::EndCr,
                    (Chunk::SizeLf(s), b'\n') => Chunk::Body(s),
                    (Chunk::BodyCr, b'\r') => Chunk::BodyLf,
                    (Chunk::BodyLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
                    (Chunk::EndCr, b'\r') => Chunk::EndLf,
                    (Chunk::EndCr, _) => Chunk::Trailer,
                    (Chunk::Trailer, b'\r') => Chunk::TrailerLf,
                    (Chunk::Trailer, _) => Chunk::Trailer,
                    (Chunk::TrailerLf, b'\n') => Chunk::EndCr,
                    (Chunk::EndLf, b'\n') => {
                        *state = State::Head;
                        return Ok(i);
                    }
                    _ => return Err(invalid("malformed chunked body")),
                };
            }
            _ => return Ok(i),
        }
    }
    Ok(i)
}

/// Judges a complete head at the start of `pending`, if there is one.
/// Returns false when more bytes are needed.
pub(crate) fn take_head(
    state: &mut State,
    pending: &mut BytesMut,
    ready: &mut BytesMut,
    on_ambiguous: &Option<Box<dyn Fn() + Send + Sync>>,
) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(pending) {
        Ok(httparse::Status::Complete(len)) => {
            let verdict = judge(req.headers, req.method);
            let head = pending.split_to(len);
            match verdict {
                Verdict::Framing(next) => {
                    ready.extend_from_slice(&head);
                    *state = next;
                }
                Verdict::Reject => {
                    if let Some(report) = on_ambiguous {
                        report();
                    }
                    ready.extend_from_slice(POISON);
                    pending.clear();
                    *state = State::Closed;
                }
            }
            true
        }
        Ok(httparse::Status::Partial) if pending.len() < MAX_REQUEST_HEAD => false,
        // Too long or too many fields: hyper, with the same limits, gets
        // the bytes and answers 431. Nothing after them reaches it, so
        // the guard never judges less than hyper parses.
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            ready.extend_from_slice(&pending.split());
            *state = State::Closed;
            true
        }
        // Malformed (obs-fold, bad tokens): 400, and nothing more.
        Err(_) => {
            ready.extend_from_slice(POISON);
            pending.clear();
            *state = State::Closed;
            true
        }
    }
}
