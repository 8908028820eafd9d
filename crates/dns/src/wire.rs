//! DNS wire format: lower-case names, a compressing encoder for building
//! answers ahead of time, and the allocation-free query parser the hot path
//! uses.
//!
//! The parser is deliberately strict about the parts we answer from (header,
//! the one question, EDNS) and lenient about the rest (unknown EDNS options,
//! trailing bytes), like NSD and Knot.

use std::fmt;

pub const HEADER_LEN: usize = 12;
pub const CLASS_IN: u16 = 1;
/// The longest name on the wire, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 255;

/// Record types we serve or treat specially.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

/// Response codes. `BADVERS` is an extended (EDNS) code.
pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const BADVERS: u8 = 16;
}

/// Header flag bits (second 16-bit word of the header).
pub mod flag {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const CD: u16 = 0x0010;
    /// The four opcode bits.
    pub const OPCODE: u16 = 0x7800;
}

/// A domain name in lower-case wire form: length-prefixed labels ending
/// with the root label. Comparing two `Name`s is comparing DNS names.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

impl Name {
    pub fn root() -> Name {
        Name(Box::new([0]))
    }

    /// Parses presentation text: `@` is `origin`, a trailing dot makes a
    /// name absolute, anything else is relative to `origin`. Escapes are
    /// not supported; every byte but `.` is literal.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, String> {
        let text = text.trim();
        if text == "@" {
            return origin.cloned().ok_or_else(|| "\"@\" needs an origin".to_string());
        }
        if text == "." {
            return Ok(Name::root());
        }
        let (body, absolute) = match text.strip_suffix('.') {
            Some(b) => (b, true),
            None => (text, false),
        };
        if body.is_empty() {
            return Err("empty name".into());
        }
        let mut wire = Vec::with_capacity(body.len() + 2);
        for label in body.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("\"{text}\": labels must be 1 to 63 bytes"));
            }
            wire.push(label.len() as u8);
            wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
        match (absolute, origin) {
            (true, _) => wire.push(0),
            (false, Some(o)) => wire.extend_from_slice(o.wire()),
            (false, None) => return Err(format!("\"{text}\" is relative and there is no origin")),
        }
        if wire.len() > MAX_NAME {
            return Err(format!("\"{text}\" is longer than 255 bytes"));
        }
        Ok(Name(wire.into()))
    }

    /// Wraps lower-case wire bytes that are known to be a valid name.
    pub fn from_wire(wire: &[u8]) -> Name {
        Name(wire.into())
    }

    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    /// Offsets at which each suffix starts, the full name first and the
    /// root label last.
    pub fn label_starts(&self) -> Vec<usize> {
        label_starts(&self.0)
    }

    /// Whether `self` is `other` or below it.
    pub fn is_within(&self, other: &Name) -> bool {
        suffix_offset(&self.0, &other.0).is_some()
    }

    /// The name with its first label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        let len = self.0[0] as usize;
        (len > 0).then(|| Name(self.0[1 + len..].into()))
    }

    /// `label` + `.` + this name.
    pub fn child(&self, label: &[u8]) -> Name {
        let mut w = Vec::with_capacity(self.0.len() + label.len() + 1);
        w.push(label.len() as u8);
        w.extend(label.iter().map(u8::to_ascii_lowercase));
        w.extend_from_slice(&self.0);
        Name(w.into())
    }

    pub fn first_label(&self) -> &[u8] {
        &self.0[1..1 + self.0[0] as usize]
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return f.write_str(".");
        }
        let mut i = 0;
        while self.0[i] != 0 {
            let len = self.0[i] as usize;
            f.write_str(&String::from_utf8_lossy(&self.0[i + 1..i + 1 + len]))?;
            f.write_str(".")?;
            i += 1 + len;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Offsets of each label in an uncompressed wire name, root included.
pub fn label_starts(wire: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < wire.len() {
        out.push(i);
        if wire[i] == 0 {
            break;
        }
        i += 1 + wire[i] as usize;
    }
    out
}

/// Where `suffix` starts inside `name` on a label boundary, if it does.
pub fn suffix_offset(name: &[u8], suffix: &[u8]) -> Option<usize> {
    if suffix.len() > name.len() {
        return None;
    }
    let want = name.len() - suffix.len();
    let mut i = 0;
    while i < want {
        i += 1 + name[i] as usize;
    }
    (i == want && &name[i..] == suffix).then_some(i)
}

/// Builds message sections with RFC 1035 name compression.
///
/// `base` is where `buf[0]` will sit in the final message, so that pointers
/// are right once the header and question are put in front. Only names that
/// were `seed`ed or written by this encoder are pointed at, so a body is
/// valid after any question whose name has the seeded shape.
pub struct Encoder {
    pub buf: Vec<u8>,
    base: usize,
    compress: bool,
    known: Vec<(Box<[u8]>, u16)>,
}

impl Encoder {
    pub fn new(base: usize, compress: bool) -> Encoder {
        Encoder {
            buf: Vec::new(),
            base,
            compress,
            known: Vec::new(),
        }
    }

    /// Registers every suffix of `name`, written at message offset `at`.
    pub fn seed(&mut self, name: &Name, at: usize) {
        for start in name.label_starts() {
            if name.wire()[start] != 0 && at + start < 0x3fff {
                self.known.push((name.wire()[start..].into(), (at + start) as u16));
            }
        }
    }

    /// Writes `name`, ending in a pointer to the longest known suffix.
    pub fn name(&mut self, name: &Name, compress: bool) {
        let wire = name.wire();
        for start in label_starts(wire) {
            let suffix = &wire[start..];
            if suffix == [0] {
                self.buf.push(0);
                return;
            }
            if self.compress && compress {
                if let Some((_, off)) = self.known.iter().find(|(k, _)| &k[..] == suffix) {
                    self.u16(0xc000 | off);
                    return;
                }
            }
            let here = self.base + self.buf.len();
            if here < 0x3fff {
                self.known.push((suffix.into(), here as u16));
            }
            let len = wire[start] as usize;
            self.buf.extend_from_slice(&wire[start..start + 1 + len]);
        }
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
}

/// The EDNS part of a query (RFC 6891).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
}

/// A parsed query. The question is kept as the client sent it (for 0x20
/// echoing) and as lower case (for lookups).
pub struct Query {
    pub id: u16,
    pub flags: u16,
    /// Lower-case wire form of the question name.
    pub lower: [u8; MAX_NAME],
    pub qname_len: usize,
    pub qtype: u16,
    pub qclass: u16,
    /// End of the question section: `msg[HEADER_LEN..question_end]` is the
    /// question exactly as sent.
    pub question_end: usize,
    pub edns: Option<Edns>,
}

impl Query {
    pub fn qname(&self) -> &[u8] {
        &self.lower[..self.qname_len]
    }
}

/// Why a message got no normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Too short to answer, or itself a response: send nothing.
    Drop,
    /// Answer with this code, header only; [`reject_flags`] says which
    /// bits of the query's header are echoed.
    Reply(u8),
}

/// The header flags of a header-only answer with `rc` to a query whose
/// flags were `query`. The ID and opcode are always echoed and QR set.
/// A FORMERR to a QUERY also echoes RD, as RFC 1035 §4.1.1 asks. A
/// NOTIMP is for an opcode other than QUERY, and there the bits after the
/// opcode need not mean AA, TC, RD...: UPDATE (RFC 2136 §2.2) defines them
/// as Z, zero in every request and response. So nothing else is copied.
pub fn reject_flags(query: u16, rc: u8) -> u16 {
    let echoed = match rc {
        rcode::NOTIMP => flag::OPCODE,
        _ => flag::OPCODE | flag::RD,
    };
    flag::QR | (query & echoed) | u16::from(rc)
}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Parses a query. Never panics, whatever the bytes.
pub fn parse_query(msg: &[u8]) -> Result<Query, Reject> {
    if msg.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    if flags & flag::QR != 0 {
        return Err(Reject::Drop);
    }
    if (flags >> 11) & 0xf != 0 {
        return Err(Reject::Reply(rcode::NOTIMP));
    }
    let count = |i: usize| u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]);
    if count(0) != 1 {
        return Err(Reject::Reply(rcode::FORMERR));
    }
    let formerr = Reject::Reply(rcode::FORMERR);
    let mut lower = [0u8; MAX_NAME];
    let mut i = HEADER_LEN;
    let mut n = 0;
    loop {
        let len = *msg.get(i).ok_or(formerr)? as usize;
        // Pointers and extended label types have no place in a question.
        if len > 63 || n + 1 + len > MAX_NAME || i + 1 + len > msg.len() {
            return Err(formerr);
        }
        lower[n] = len as u8;
        for k in 0..len {
            lower[n + 1 + k] = msg[i + 1 + k].to_ascii_lowercase();
        }
        n += 1 + len;
        i += 1 + len;
        if len == 0 {
            break;
        }
    }
    let qtype = be16(msg, i).ok_or(formerr)?;
    let qclass = be16(msg, i + 2).ok_or(formerr)?;
    let question_end = i + 4;
    if matches!(qtype, 0 | rtype::OPT | rtype::TKEY | rtype::TSIG) {
        return Err(formerr);
    }
    let mut at = question_end;
    for _ in 0..u32::from(count(1)) + u32::from(count(2)) {
        at = skip_rr(msg, at).ok_or(formerr)?.0;
    }
    let mut edns = None;
    for _ in 0..count(3) {
        let (next, owner_root, rt, class, ttl) = skip_rr(msg, at).ok_or(formerr)?;
        if rt == rtype::OPT {
            if edns.is_some() || !owner_root {
                return Err(formerr);
            }
            edns = Some(Edns {
                payload: class,
                version: (ttl >> 16) as u8,
            });
        }
        at = next;
    }
    Ok(Query {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        flags,
        lower,
        qname_len: n,
        qtype,
        qclass,
        question_end,
        edns,
    })
}

/// Skips one resource record; returns (next offset, owner is root, type,
/// class, ttl).
fn skip_rr(msg: &[u8], mut at: usize) -> Option<(usize, bool, u16, u16, u32)> {
    let owner_root = *msg.get(at)? == 0;
    let mut total = 0;
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => {
                at += 1;
                break;
            }
            1..=63 => {
                total += 1 + len as usize;
                if total > MAX_NAME {
                    return None;
                }
                at += 1 + len as usize;
            }
            0xc0..=0xff => {
                msg.get(at + 1)?;
                at += 2;
                break;
            }
            _ => return None,
        }
    }
    let rt = be16(msg, at)?;
    let class = be16(msg, at + 2)?;
    let ttl = u32::from(be16(msg, at + 4)?) << 16 | u32::from(be16(msg, at + 6)?);
    let rdlen = be16(msg, at + 8)? as usize;
    let end = at + 10 + rdlen;
    (end <= msg.len()).then_some((end, owner_root, rt, class, ttl))
}

/// Writes a response header.
pub fn header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

/// Appends our OPT record: `payload` is the size we accept, `rcode` the
/// full (possibly extended) response code.
pub fn opt(out: &mut Vec<u8>, payload: u16, rcode: u8) {
    out.push(0);
    out.extend_from_slice(&rtype::OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    out.push(rcode >> 4);
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&arcount.to_be_bytes());
        m.extend_from_slice(name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    #[test]
    fn names_parse_relative_absolute_and_apex() {
        let apex = Name::parse("Contoso.COM", Some(&Name::root())).unwrap();
        assert_eq!(apex.to_string(), "contoso.com.");
        assert_eq!(Name::parse("@", Some(&apex)).unwrap(), apex);
        assert_eq!(
            Name::parse("_sip._tls", Some(&apex)).unwrap().to_string(),
            "_sip._tls.contoso.com."
        );
        assert_eq!(
            Name::parse("mail.contoso.com.", None).unwrap().to_string(),
            "mail.contoso.com."
        );
        assert!(Name::parse("a..b", Some(&apex)).is_err());
        assert!(Name::parse(&"a".repeat(64), Some(&apex)).is_err());
    }

    #[test]
    fn within_is_label_aligned() {
        let apex = Name::parse("contoso.com.", None).unwrap();
        assert!(Name::parse("a.contoso.com.", None).unwrap().is_within(&apex));
        assert!(apex.is_within(&apex));
        assert!(!Name::parse("xcontoso.com.", None).unwrap().is_within(&apex));
    }

    #[test]
    fn query_keeps_case_and_finds_edns() {
        let opt_rr = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
        let m = q(b"\x04MaIl\x07contoso\x03com\x00", rtype::A, &opt_rr, 1);
        let p = parse_query(&m).unwrap();
        assert_eq!(p.qname(), b"\x04mail\x07contoso\x03com\x00");
        assert_eq!(&m[HEADER_LEN..HEADER_LEN + 5], b"\x04MaIl");
        assert_eq!(
            p.edns,
            Some(Edns {
                payload: 4096,
                version: 0
            })
        );
    }

    #[test]
    fn malformed_queries_are_formerr_or_dropped() {
        assert_eq!(parse_query(&[0; 5]).err(), Some(Reject::Drop));
        let ptr = q(b"\xc0\x0c", rtype::A, &[], 0);
        assert_eq!(parse_query(&ptr).err(), Some(Reject::Reply(rcode::FORMERR)));
        let short = q(b"\x04mail", rtype::A, &[], 0);
        assert_eq!(parse_query(&short[..17]).err(), Some(Reject::Reply(rcode::FORMERR)));
        let two_opts = [[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0], [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]].concat();
        let m = q(b"\x00", rtype::A, &two_opts, 2);
        assert_eq!(parse_query(&m).err(), Some(Reject::Reply(rcode::FORMERR)));
        let mut resp = q(b"\x00", rtype::A, &[], 0);
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp).err(), Some(Reject::Drop));
    }

    #[test]
    fn encoder_points_at_seeded_question() {
        let qname = Name::parse("mail.contoso.com.", None).unwrap();
        let mut e = Encoder::new(HEADER_LEN + qname.wire().len() + 4, true);
        e.seed(&qname, HEADER_LEN);
        e.name(&qname, true);
        assert_eq!(e.buf, [0xc0, 12]);
        e.name(&Name::parse("sip.contoso.com.", None).unwrap(), true);
        assert_eq!(&e.buf[2..], b"\x03sip\xc0\x11");
    }
}
