//! Precomputed answers: for every name in every view and every query type
//! that can make a difference, the response body (answer, authority and
//! additional sections) in wire form, ready to be sent after the header and
//! the client's own question.
//!
//! Bodies of names that exist are compressed against the question, which
//! always sits at offset 12 and has the same shape as the name (only its
//! case may differ), so the pointers hold for any client. Wildcard bodies
//! point only at offset 12 itself, which is whatever name the client asked.
//! A DNS-balanced RRset gets one body per rotation.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::wire::{rtype, Encoder, Name, CLASS_IN, HEADER_LEN};
use crate::zone::{Node, RData, RrSet, ViewData, ZoneData};

/// One response body and what the header must say about it.
#[derive(Debug)]
pub struct Answer {
    pub rcode: u8,
    /// Record counts: answer, authority, additional.
    pub counts: [u16; 3],
    pub body: Box<[u8]>,
}

/// The rotations of one answer; usually exactly one.
pub type Variants = Box<[Answer]>;

/// Answers at one name.
#[derive(Debug)]
pub struct NodeAnswers {
    by_type: Box<[(u16, Variants)]>,
    /// Any type not in `by_type`: NODATA, or the CNAME chased for a type
    /// nothing in the view has.
    other: Variants,
}

impl NodeAnswers {
    pub fn get(&self, qtype: u16) -> &Variants {
        self.by_type
            .iter()
            .find(|(t, _)| *t == qtype)
            .map_or(&self.other, |(_, v)| v)
    }
}

/// A fast hasher for name keys. Keys come from the configuration; a client
/// only picks what is probed, which cannot lengthen a chain it does not
/// control, and the tables hold tens of names.
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        self.0 = h;
    }
}

pub type NameMap<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<NameHasher>>;

pub struct ViewAnswers {
    pub name: String,
    /// Every name that exists, empty non-terminals included.
    pub exact: NameMap<NodeAnswers>,
    /// Wildcards, keyed by the name they stand under (`*.x` is keyed `x`).
    pub wildcards: NameMap<NodeAnswers>,
    /// The whole view as one AXFR answer.
    pub axfr: Answer,
    /// The SOA alone, for IXFR over UDP (RFC 1995 §2: "use TCP").
    pub soa_only: Answer,
}

/// All views, ready for the query path.
pub struct Compiled {
    pub apex: Name,
    pub views: Vec<ViewAnswers>,
    pub zone_view: Vec<Option<u16>>,
    /// The negative SOA record after its owner name, which is written per
    /// query as a pointer to the apex inside the question.
    pub nx_soa_tail: Box<[u8]>,
    pub warnings: Vec<String>,
}

/// Compiles record data into answers. `wildcards` turns on `*` labels.
pub fn compile(zone: ZoneData, wildcards: bool) -> Compiled {
    let views = zone
        .views
        .iter()
        .map(|v| compile_view(v, &zone.apex, &zone.negative_soa, wildcards))
        .collect();
    let mut tail = Encoder::new(0, false);
    rr_after_owner(&mut tail, &zone.negative_soa, &zone.negative_soa.data[0]);
    Compiled {
        apex: zone.apex,
        views,
        zone_view: zone.zone_view,
        nx_soa_tail: tail.buf.into(),
        warnings: zone.warnings,
    }
}

fn compile_view(view: &ViewData, apex: &Name, neg: &RrSet, wildcards: bool) -> ViewAnswers {
    let mut types: Vec<u16> = view
        .nodes
        .values()
        .flat_map(|n| n.sets.iter().map(|s| s.rtype))
        .collect();
    types.sort_unstable();
    types.dedup();
    let ctx = Ctx { view, apex, neg };
    let mut exact = NameMap::default();
    let mut wild = NameMap::default();
    for (name, node) in &view.nodes {
        let is_wild = wildcards && name.first_label() == b"*";
        let answers = ctx.node_answers(name, node, &types, is_wild);
        if is_wild {
            let parent = name.parent().expect("a wildcard has a parent");
            wild.insert(parent.wire().into(), answers);
        } else {
            exact.insert(name.wire().into(), answers);
        }
    }
    let apex_node = &view.nodes[apex];
    let soa = apex_node.get(rtype::SOA).expect("every view has an SOA");
    let mut all: Vec<(&Name, &RrSet)> = vec![(apex, soa)];
    for (name, node) in &view.nodes {
        all.extend(node.sets.iter().filter(|s| s.rtype != rtype::SOA).map(|s| (name, s)));
    }
    all.push((apex, soa));
    let axfr = encode(apex, Mode::Exact, 0, &[&all, &[], &[]], 0);
    let soa_only = encode(apex, Mode::Exact, 0, &[&[(apex, soa)], &[], &[]], 0);
    ViewAnswers {
        name: view.name.clone(),
        exact,
        wildcards: wild,
        axfr,
        soa_only,
    }
}

struct Ctx<'a> {
    view: &'a ViewData,
    apex: &'a Name,
    neg: &'a RrSet,
}

type Section<'a> = Vec<(&'a Name, &'a RrSet)>;

impl<'a> Ctx<'a> {
    fn node_answers(&self, name: &'a Name, node: &'a Node, types: &[u16], wild: bool) -> NodeAnswers {
        let mode = if wild { Mode::Wildcard } else { Mode::Exact };
        let mut qtypes: Vec<u16> = if node.get(rtype::CNAME).is_some() {
            types.to_vec()
        } else {
            node.sets.iter().map(|s| s.rtype).collect()
        };
        qtypes.push(rtype::ANY);
        qtypes.dedup();
        let by_type = qtypes
            .into_iter()
            .map(|t| (t, self.variants(name, node, t, mode)))
            .collect();
        // A type no record in the view has: 0 stands for it.
        let other = self.variants(name, node, 0, mode);
        NodeAnswers { by_type, other }
    }

    fn variants(&self, name: &'a Name, node: &'a Node, qtype: u16, mode: Mode) -> Variants {
        let (rcode, sections) = self.resolve(name, node, qtype);
        let n = sections
            .iter()
            .flatten()
            .filter(|(_, s)| s.rotating)
            .map(|(_, s)| s.data.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let refs = [&sections[0][..], &sections[1][..], &sections[2][..]];
        (0..n).map(|r| encode(name, mode, rcode, &refs, r)).collect()
    }

    /// What a query for `qtype` at an existing `name` returns: CNAMEs are
    /// followed inside the zone, targets of MX, SRV and NS get their
    /// addresses in the additional section.
    fn resolve(&self, name: &'a Name, node: &'a Node, qtype: u16) -> (u8, [Section<'a>; 3]) {
        let mut answer: Section = Vec::new();
        let mut authority: Section = Vec::new();
        let mut rcode = 0;
        let (mut cur_name, mut cur) = (name, node);
        for _ in 0..8 {
            if qtype == rtype::ANY {
                answer.extend(cur.sets.iter().map(|s| (cur_name, s)));
                break;
            }
            if let Some(set) = cur.get(qtype) {
                answer.push((cur_name, set));
                break;
            }
            let Some(cname) = cur.get(rtype::CNAME) else {
                authority.push((self.apex, self.neg));
                break;
            };
            answer.push((cur_name, cname));
            let RData::Name(target) = &cname.data[0] else { break };
            if !target.is_within(self.apex) || answer.iter().any(|(n, _)| *n == target) {
                break;
            }
            match self.view.nodes.get_key_value(target) {
                Some((n, next)) => (cur_name, cur) = (n, next),
                None => {
                    rcode = crate::wire::rcode::NXDOMAIN;
                    authority.push((self.apex, self.neg));
                    break;
                }
            }
        }
        let mut additional: Section = Vec::new();
        for (_, set) in &answer {
            for d in &set.data {
                let target = match d {
                    RData::Mx(_, t) | RData::Srv(_, _, _, t) => t,
                    RData::Name(t) if set.rtype == rtype::NS => t,
                    _ => continue,
                };
                let Some((tname, tnode)) = self.view.nodes.get_key_value(target) else {
                    continue;
                };
                for t in [rtype::A, rtype::AAAA] {
                    if let Some(s) = tnode.get(t) {
                        let dup = |sec: &Section| sec.iter().any(|(n, x)| *n == tname && x.rtype == t);
                        if !dup(&answer) && !dup(&additional) {
                            additional.push((tname, s));
                        }
                    }
                }
            }
        }
        (rcode, [answer, authority, additional])
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The question is `qname` itself (in any case): compress against it.
    Exact,
    /// The question is some name under the wildcard: only offset 12 is known.
    Wildcard,
}

fn encode(qname: &Name, mode: Mode, rcode: u8, sections: &[&[(&Name, &RrSet)]; 3], rotation: usize) -> Answer {
    let base = HEADER_LEN + qname.wire().len() + 4;
    let mut e = match mode {
        Mode::Exact => {
            let mut e = Encoder::new(base, true);
            e.seed(qname, HEADER_LEN);
            e
        }
        Mode::Wildcard => Encoder::new(0, false),
    };
    let mut counts = [0u16; 3];
    for (i, section) in sections.iter().enumerate() {
        for (owner, set) in section.iter() {
            let len = set.data.len();
            let shift = if set.rotating { rotation % len } else { 0 };
            for k in 0..len {
                let d = &set.data[(k + shift) % len];
                if mode == Mode::Wildcard && *owner == qname {
                    e.u16(0xc000 | HEADER_LEN as u16);
                } else {
                    e.name(owner, true);
                }
                rr_after_owner(&mut e, set, d);
                counts[i] += 1;
            }
        }
    }
    Answer {
        rcode,
        counts,
        body: e.buf.into(),
    }
}

/// Type, class, TTL, length and data of one record.
fn rr_after_owner(e: &mut Encoder, set: &RrSet, d: &RData) {
    e.u16(set.rtype);
    e.u16(CLASS_IN);
    e.u32(set.ttl);
    let len_at = e.buf.len();
    e.u16(0);
    match d {
        RData::A(a) => e.buf.extend_from_slice(&a.octets()),
        RData::Aaaa(a) => e.buf.extend_from_slice(&a.octets()),
        RData::Name(n) => e.name(n, true),
        RData::Mx(p, n) => {
            e.u16(*p);
            e.name(n, true);
        }
        RData::Txt(strings) => {
            for s in strings {
                e.buf.push(s.len() as u8);
                e.buf.extend_from_slice(s);
            }
        }
        // RFC 2782: the SRV target is never compressed.
        RData::Srv(p, w, port, n) => {
            e.u16(*p);
            e.u16(*w);
            e.u16(*port);
            e.name(n, false);
        }
        RData::Soa(s) => {
            e.name(&s.mname, true);
            e.name(&s.rname, true);
            for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                e.u32(v);
            }
        }
    }
    let len = (e.buf.len() - len_at - 2) as u16;
    e.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}
