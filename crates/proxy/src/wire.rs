//! The HTTP/1.1 wire format towards backends (RFC 9112), with no I/O:
//! request heads out, response heads and body framing in, and chunked
//! decoding. [`crate::backend`] drives it over a connection.
//!
//! Strict where a lax reading could desynchronise the connection: a
//! response whose framing is ambiguous (several different lengths, a length
//! that is not a number) is refused, and one that is framed by
//! `Transfer-Encoding` but not chunked is read to the end of the connection,
//! which is then closed.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::headers::{write_forwarding, ForwardedFor};

/// The longest response head (status line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields accepted in a response head or trailer section.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line accepted, extensions included.
const MAX_CHUNK_LINE: usize = 4096;

/// Why a backend's response cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed response from backend: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes, as the request's `Content-Length` says.
    Length(u64),
    /// Chunked, for a body of unknown length (HTTP/2 clients, chunked
    /// HTTP/1.1 clients); trailers go after the last chunk.
    Chunked,
}

/// A request head as it goes to the backend.
pub(crate) struct RequestHead<'a> {
    pub method: &'a Method,
    /// The origin form: path and query.
    pub target: &'a str,
    /// Sent as `Host`, in place of any `Host` among `headers`.
    pub host: Option<&'a [u8]>,
    /// The client's fields, already free of hop-by-hop ones
    /// (`Transfer-Encoding` included: gatehouse frames the body itself).
    pub headers: &'a HeaderMap,
    /// gatehouse's own forwarding fields.
    pub forwarding: Option<&'a ForwardedFor<'a>>,
}

/// Chooses the request body's framing and writes the request head into `out`.
pub(crate) fn encode_request_head(out: &mut Vec<u8>, head: &RequestHead<'_>, body_is_empty: bool) -> Outgoing {
    let length = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let framing = match (body_is_empty, length) {
        (_, Some(n)) => Outgoing::Length(n),
        (true, None) => Outgoing::Empty,
        (false, None) => Outgoing::Chunked,
    };
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(host) = head.host {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in head.headers {
        if head.host.is_some() && name == header::HOST {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(f) = head.forwarding {
        write_forwarding(out, f);
    }
    match framing {
        Outgoing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        // Servers such as IIS answer 411 to a body-carrying method sent
        // without a length, even when the body is empty.
        Outgoing::Empty if matches!(*head.method, Method::POST | Method::PUT | Method::PATCH) => {
            out.extend_from_slice(b"content-length: 0\r\n")
        }
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    framing
}

/// Writes the size line that precedes a chunk of `len` bytes; `first` says
/// whether a previous chunk's closing CRLF is still owed.
pub(crate) fn chunk_size_line(out: &mut Vec<u8>, len: usize, first: bool) {
    if !first {
        out.extend_from_slice(b"\r\n");
    }
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// Writes the last chunk and the trailer section; `first` as above.
pub(crate) fn last_chunk(out: &mut Vec<u8>, trailers: Option<&HeaderMap>, first: bool) {
    if !first {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// This many bytes remain.
    Length(u64),
    Chunked,
    /// Until the backend closes; the connection cannot be reused.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: Incoming,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
}

/// Parses one response head from the front of `buf`, consuming it. `Ok(None)`
/// means more bytes are needed. `request_method` decides whether a body
/// follows (none for HEAD).
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    request_method: &Method,
) -> Result<Option<ResponseHead>, Malformed> {
    if buf.is_empty() {
        return Ok(None);
    }
    // Left uninitialised: filling 128 slots cost more than parsing.
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(Malformed("head too large")),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed("too many header fields")),
        Err(_) => return Err(Malformed("unparsable status line or header")),
    };
    if len > MAX_HEAD {
        return Err(Malformed("head too large"));
    }
    let status = resp
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(Malformed("bad status code"))?;
    let http10 = resp.version == Some(0);
    // Where each field lies in the head, so that the values can share the
    // head's bytes once it is split off, rather than be copied one by one.
    let base = buf.as_ptr() as usize;
    let mut fields = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let count = resp.headers.len();
    for (f, h) in fields.iter_mut().zip(resp.headers.iter()) {
        let name = h.name.as_ptr() as usize - base;
        let value = h.value.as_ptr() as usize - base;
        *f = (name as u32, h.name.len() as u32, value as u32, h.value.len() as u32);
    }
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    // Which framing fields are there, noted on the way: looking each up
    // afterwards, in the usual case where most are absent, cost as much as
    // building the map.
    let mut present = Present::default();
    for &(n, nl, v, vl) in &fields[..count] {
        let name =
            HeaderName::from_bytes(&head[n as usize..(n + nl) as usize]).map_err(|_| Malformed("bad header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(v as usize..(v + vl) as usize))
            .map_err(|_| Malformed("bad header value"))?;
        if name == header::CONTENT_LENGTH {
            present.length = true;
        } else if name == header::TRANSFER_ENCODING {
            present.coding = true;
        } else if name == header::CONNECTION {
            present.connection = true;
        }
        headers.append(name, value);
    }
    let (framing, framing_allows_reuse) = response_framing(status, &headers, present, request_method)?;
    let keep_alive =
        framing_allows_reuse && !http10 && !(present.connection && has_token(&headers, header::CONNECTION, "close"));
    Ok(Some(ResponseHead {
        status,
        headers,
        framing,
        keep_alive,
    }))
}

/// RFC 9112 6.3, in order. The flag says whether the framing leaves the
/// connection usable afterwards.
/// Which of the fields that frame a response it carries.
#[derive(Clone, Copy, Default)]
struct Present {
    length: bool,
    coding: bool,
    connection: bool,
}

fn response_framing(
    status: StatusCode,
    headers: &HeaderMap,
    present: Present,
    method: &Method,
) -> Result<(Incoming, bool), Malformed> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Incoming::Empty, true));
    }
    if present.coding {
        // Chunked must be the final coding; anything else runs to the close.
        let last = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').map(str::trim).find(|t| !t.is_empty()));
        let chunked = last.is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        // A length alongside a coding is a smuggling pattern: honour the
        // coding and never reuse the connection.
        let reusable = chunked && !present.length;
        return Ok((
            if chunked {
                Incoming::Chunked
            } else {
                Incoming::UntilClose
            },
            reusable,
        ));
    }
    if !present.length {
        return Ok((Incoming::UntilClose, false));
    }
    let mut length: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for part in v.to_str().map_err(|_| Malformed("bad Content-Length"))?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Malformed("bad Content-Length"));
            }
            let n = part.parse::<u64>().map_err(|_| Malformed("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Malformed("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => (Incoming::Empty, true),
        Some(n) => (Incoming::Length(n), true),
        None => (Incoming::UntilClose, false),
    })
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// After a chunk's data, expecting its CRLF.
    DataEnd,
    /// After the last chunk, expecting trailer fields or the final CRLF.
    Trailers,
    Done,
}

/// What the chunked decoder produced from the buffered bytes.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body ended with no trailers.
    End,
    /// More bytes are needed.
    NeedMore,
}

/// Decodes from the front of `buf`, consuming what it uses, until it has
/// something to hand on or needs more input.
pub(crate) fn decode_chunked(state: &mut Chunked, buf: &mut BytesMut) -> Result<Decoded, Malformed> {
    loop {
        match *state {
            Chunked::Size => {
                // The same limit whether the line arrived whole or in
                // pieces: a line longer than the limit, or (without its
                // CRLF yet) bytes that can only be one.
                let Some(end) = find_crlf(buf) else {
                    return if buf.len() > MAX_CHUNK_LINE + 1 {
                        Err(Malformed("chunk size line too long"))
                    } else {
                        Ok(Decoded::NeedMore)
                    };
                };
                if end > MAX_CHUNK_LINE {
                    return Err(Malformed("chunk size line too long"));
                }
                let line = &buf[..end];
                let digits = line.split(|b| *b == b';').next().unwrap_or(line);
                let digits = trim_ows(digits);
                if digits.is_empty() || digits.len() > 15 {
                    return Err(Malformed("bad chunk size"));
                }
                let mut size: u64 = 0;
                for &d in digits {
                    let v = (d as char).to_digit(16).ok_or(Malformed("bad chunk size"))?;
                    size = size << 4 | u64::from(v);
                }
                let _ = buf.split_to(end + 2);
                *state = if size == 0 {
                    Chunked::Trailers
                } else {
                    Chunked::Data(size)
                };
            }
            Chunked::Data(left) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let take = left.min(buf.len() as u64) as usize;
                let data = buf.split_to(take).freeze();
                *state = if take as u64 == left {
                    Chunked::DataEnd
                } else {
                    Chunked::Data(left - take as u64)
                };
                return Ok(Decoded::Data(data));
            }
            Chunked::DataEnd => {
                if buf.len() < 2 {
                    return Ok(Decoded::NeedMore);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(Malformed("chunk not followed by CRLF"));
                }
                let _ = buf.split_to(2);
                *state = Chunked::Size;
            }
            Chunked::Trailers => {
                if buf.starts_with(b"\r\n") {
                    let _ = buf.split_to(2);
                    *state = Chunked::Done;
                    return Ok(Decoded::End);
                }
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::parse_headers(buf, &mut slots) {
                    Ok(httparse::Status::Complete((len, _))) if len > MAX_HEAD => {
                        return Err(Malformed("trailer section too large"))
                    }
                    Ok(httparse::Status::Complete((len, fields))) => {
                        let mut trailers = HeaderMap::with_capacity(fields.len());
                        for f in fields {
                            let name =
                                HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| Malformed("bad trailer name"))?;
                            let value = HeaderValue::from_bytes(f.value).map_err(|_| Malformed("bad trailer value"))?;
                            trailers.append(name, value);
                        }
                        let _ = buf.split_to(len);
                        *state = Chunked::Done;
                        return Ok(Decoded::Trailers(trailers));
                    }
                    Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                        return Err(Malformed("trailer section too large"))
                    }
                    Ok(httparse::Status::Partial) => return Ok(Decoded::NeedMore),
                    Err(_) => return Err(Malformed("bad trailer section")),
                }
            }
            Chunked::Done => return Ok(Decoded::End),
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str, method: Method) -> Result<Option<ResponseHead>, Malformed> {
        let mut buf = BytesMut::from(raw);
        parse_response_head(&mut buf, &method)
    }

    fn framing(raw: &str) -> (Incoming, bool) {
        let h = head(raw, Method::GET).unwrap().unwrap();
        (h.framing, h.keep_alive)
    }

    fn encode(method: &Method, target: &str, host: Option<&[u8]>, h: &HeaderMap, empty: bool) -> (Outgoing, Vec<u8>) {
        let mut out = Vec::new();
        let head = RequestHead {
            method,
            target,
            host,
            headers: h,
            forwarding: None,
        };
        let framing = encode_request_head(&mut out, &head, empty);
        (framing, out)
    }

    #[test]
    fn request_head_frames_the_body_by_length_chunks_or_nothing() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("owa.contoso.com"));
        let (framing, out) = encode(&Method::GET, "/owa/", None, &h, true);
        assert_eq!(framing, Outgoing::Empty);
        assert_eq!(out, b"GET /owa/ HTTP/1.1\r\nhost: owa.contoso.com\r\n\r\n");

        let (framing, out) = encode(&Method::POST, "/ews", None, &h, false);
        assert_eq!(framing, Outgoing::Chunked);
        assert!(out.ends_with(b"transfer-encoding: chunked\r\n\r\n"));

        let (framing, out) = encode(&Method::POST, "/", None, &h, true);
        assert_eq!(framing, Outgoing::Empty);
        assert!(out.ends_with(b"content-length: 0\r\n\r\n"));

        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1073741824"));
        let rpc = Method::from_bytes(b"RPC_IN_DATA").unwrap();
        let (framing, out) = encode(&rpc, "/rpc", None, &h, false);
        assert_eq!(framing, Outgoing::Length(1 << 30));
        assert!(out.starts_with(b"RPC_IN_DATA /rpc HTTP/1.1\r\n"));
        assert!(!out.windows(17).any(|w| w == b"transfer-encoding"));
    }

    #[test]
    fn the_backend_host_comes_first_and_replaces_the_clients() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        h.insert(header::HOST, HeaderValue::from_static("mail.contoso.com"));
        let (_, out) = encode(&Method::GET, "/", Some(b"exch01.contoso.local"), &h, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nhost: exch01.contoso.local\r\naccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn chunk_lines_are_hex_and_close_the_previous_chunk() {
        let mut out = Vec::new();
        chunk_size_line(&mut out, 0x1a2b, true);
        chunk_size_line(&mut out, 1, false);
        let mut t = HeaderMap::new();
        t.insert("x-checksum", HeaderValue::from_static("abc"));
        last_chunk(&mut out, Some(&t), false);
        assert_eq!(out, b"1a2b\r\n\r\n1\r\n\r\n0\r\nx-checksum: abc\r\n\r\n");
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
            (Incoming::Length(5), true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (Incoming::Empty, true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"),
            (Incoming::Chunked, true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n"),
            (Incoming::UntilClose, false)
        );
        assert_eq!(framing("HTTP/1.1 200 OK\r\n\r\n"), (Incoming::UntilClose, false));
        assert_eq!(framing("HTTP/1.1 204 No Content\r\n\r\n"), (Incoming::Empty, true));
        assert_eq!(
            framing("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"),
            (Incoming::Empty, true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\n"),
            (Incoming::Length(7), false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\ncontent-length: 7\r\n\r\n"),
            (Incoming::Length(7), false)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 7\r\ncontent-length: 7\r\n\r\n"),
            (Incoming::Length(7), true)
        );
        // Both: the coding wins and the connection is not reused.
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 7\r\ntransfer-encoding: chunked\r\n\r\n"),
            (Incoming::Chunked, false)
        );
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", Method::HEAD)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Incoming::Empty);
    }

    #[test]
    fn ambiguous_or_broken_heads_are_refused() {
        for raw in [
            "HTTP/1.1 200 OK\r\ncontent-length: 7\r\ncontent-length: 8\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 7, 8\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: +7\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTX/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        ] {
            assert!(head(raw, Method::GET).is_err(), "{raw:?} accepted");
        }
        let many: String = (0..200).map(|i| format!("x-{i}: v\r\n")).collect();
        assert!(head(&format!("HTTP/1.1 200 OK\r\n{many}\r\n"), Method::GET).is_err());
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD + 1));
        assert!(head(&huge, Method::GET).is_err());
    }

    #[test]
    fn a_partial_head_waits_and_leftover_bytes_stay() {
        assert!(head("HTTP/1.1 200 OK\r\ncontent-le", Method::GET).unwrap().is_none());
        let mut buf = BytesMut::from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
        let first = parse_response_head(&mut buf, &Method::POST).unwrap().unwrap();
        assert_eq!(first.status, StatusCode::CONTINUE);
        let second = parse_response_head(&mut buf, &Method::POST).unwrap().unwrap();
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(&buf[..], b"hi");
    }

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, Option<HeaderMap>), Malformed> {
        let mut state = Chunked::Size;
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decode_chunked(&mut state, &mut buf)? {
                Decoded::Data(d) => body.extend_from_slice(&d),
                Decoded::Trailers(t) => return Ok((body, Some(t))),
                Decoded::End => return Ok((body, None)),
                Decoded::NeedMore => {
                    if fed == input.len() {
                        return Err(Malformed("truncated"));
                    }
                    let n = step.min(input.len() - fed);
                    buf.extend_from_slice(&input[fed..fed + n]);
                    fed += n;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_sizes() {
        let wire = b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
        for step in [1, 2, 3, 7, 64] {
            let (body, trailers) = decode_all(wire, step).unwrap();
            assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
            assert!(trailers.is_none());
        }
        let wire = b"3\r\nabc\r\n0\r\nx-mapi-status: 0\r\nx-other: 1\r\n\r\n";
        for step in [1, 5, 100] {
            let (body, trailers) = decode_all(wire, step).unwrap();
            assert_eq!(body, b"abc");
            let t = trailers.unwrap();
            assert_eq!(t.get("x-mapi-status").unwrap(), "0");
            assert_eq!(t.len(), 2);
        }
    }

    #[test]
    fn broken_chunked_bodies_are_refused() {
        for wire in [
            &b"z\r\nabc\r\n0\r\n\r\n"[..],
            b"3\r\nabcX\r\n0\r\n\r\n",
            b"\r\n",
            b"10000000000000000\r\n",
            b"3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
        ] {
            assert!(
                decode_all(wire, 4).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(wire)
            );
        }
        let long = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE + 10]].concat();
        assert!(decode_all(&long, 1000).is_err());
    }
}
