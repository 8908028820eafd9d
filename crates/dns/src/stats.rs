//! Query counters per view, response code and query type, plus counts of
//! what never got a normal answer (ACL drops, rate limiting, truncation).
//!
//! Each UDP worker counts into its own shard so that two cores answering
//! at full speed never fight over a cache line; a snapshot adds the shards.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::{rcode, rtype};

/// Response codes counted, in counter order.
pub const RCODES: [(&str, u8); 7] = [
    ("NOERROR", rcode::NOERROR),
    ("FORMERR", rcode::FORMERR),
    ("SERVFAIL", rcode::SERVFAIL),
    ("NXDOMAIN", rcode::NXDOMAIN),
    ("NOTIMP", rcode::NOTIMP),
    ("REFUSED", rcode::REFUSED),
    ("BADVERS", rcode::BADVERS),
];

/// Query types counted one by one; everything else is "other".
pub const QTYPES: [(&str, u16); 11] = [
    ("A", rtype::A),
    ("AAAA", rtype::AAAA),
    ("CNAME", rtype::CNAME),
    ("MX", rtype::MX),
    ("TXT", rtype::TXT),
    ("SRV", rtype::SRV),
    ("NS", rtype::NS),
    ("SOA", rtype::SOA),
    ("ANY", rtype::ANY),
    ("AXFR", rtype::AXFR),
    ("IXFR", rtype::IXFR),
];

const N_RCODE: usize = RCODES.len();
const N_QTYPE: usize = QTYPES.len() + 1;

/// Slots after the per-view cells: ACL drops, RRL drops, RRL slips, truncated.
const EXTRA: usize = 4;
/// Padding so that two shards never share a cache line.
const PAD: usize = 16;

/// One event that is not a (view, rcode, qtype) cell.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    AclDrop = 0,
    RrlDrop = 1,
    RrlSlip = 2,
    Truncated = 3,
}

pub struct Stats {
    /// View names; cells for index `views.len()` count queries with no view.
    views: Vec<String>,
    shards: Box<[Box<[AtomicU64]>]>,
}

impl Stats {
    pub fn new(views: Vec<String>, shards: usize) -> Stats {
        let cells = (views.len() + 1) * N_RCODE * N_QTYPE + EXTRA + PAD;
        Stats {
            shards: (0..shards.max(1))
                .map(|_| (0..cells).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            views,
        }
    }

    fn cell(&self, view: Option<usize>, rc: u8, qtype: u16) -> usize {
        let v = view.unwrap_or(self.views.len()).min(self.views.len());
        let r = RCODES.iter().position(|(_, c)| *c == rc).unwrap_or(2);
        let q = QTYPES.iter().position(|(_, t)| *t == qtype).unwrap_or(QTYPES.len());
        (v * N_RCODE + r) * N_QTYPE + q
    }

    pub fn count(&self, shard: usize, view: Option<usize>, rc: u8, qtype: u16) {
        let s = &self.shards[shard % self.shards.len()];
        s[self.cell(view, rc, qtype)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn event(&self, shard: usize, e: Event) {
        let s = &self.shards[shard % self.shards.len()];
        let base = (self.views.len() + 1) * N_RCODE * N_QTYPE;
        s[base + e as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self, i: usize) -> u64 {
        self.shards.iter().map(|s| s[i].load(Ordering::Relaxed)).sum()
    }

    /// Current totals; cells that are zero are left out.
    pub fn snapshot(&self) -> DnsStats {
        let mut queries = Vec::new();
        for v in 0..=self.views.len() {
            for (r, (rname, _)) in RCODES.iter().enumerate() {
                for q in 0..N_QTYPE {
                    let n = self.total((v * N_RCODE + r) * N_QTYPE + q);
                    if n > 0 {
                        queries.push(QueryCount {
                            view: self.views.get(v).cloned(),
                            rcode: rname,
                            qtype: QTYPES.get(q).map_or("other", |t| t.0),
                            count: n,
                        });
                    }
                }
            }
        }
        let base = (self.views.len() + 1) * N_RCODE * N_QTYPE;
        DnsStats {
            queries,
            acl_dropped: self.total(base),
            rrl_dropped: self.total(base + 1),
            rrl_slipped: self.total(base + 2),
            truncated: self.total(base + 3),
        }
    }

    /// Adds `prev`'s totals, matching views by name, so that counters
    /// survive a reload.
    pub fn carry_over(&self, prev: &DnsStats) {
        for q in &prev.queries {
            let view = match &q.view {
                Some(name) => match self.views.iter().position(|v| v == name) {
                    Some(i) => Some(i),
                    None => continue,
                },
                None => None,
            };
            let rc = RCODES.iter().find(|r| r.0 == q.rcode).map_or(rcode::SERVFAIL, |r| r.1);
            let qt = QTYPES.iter().find(|t| t.0 == q.qtype).map_or(0, |t| t.1);
            self.shards[0][self.cell(view, rc, qt)].fetch_add(q.count, Ordering::Relaxed);
        }
        for (e, n) in [
            (Event::AclDrop, prev.acl_dropped),
            (Event::RrlDrop, prev.rrl_dropped),
            (Event::RrlSlip, prev.rrl_slipped),
            (Event::Truncated, prev.truncated),
        ] {
            let base = (self.views.len() + 1) * N_RCODE * N_QTYPE;
            self.shards[0][base + e as usize].fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Counter totals at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsStats {
    pub queries: Vec<QueryCount>,
    /// Queries from clients the gateway ACL denies (dropped unanswered).
    pub acl_dropped: u64,
    /// Responses dropped, and sent truncated instead, by rate limiting.
    pub rrl_dropped: u64,
    pub rrl_slipped: u64,
    /// UDP answers that did not fit and went out with TC=1.
    pub truncated: u64,
}

/// Queries answered in one view with one response code for one type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryCount {
    /// `None`: the client's zone is in no view (answered REFUSED), or the
    /// query was malformed before a view was known.
    pub view: Option<String>,
    pub rcode: &'static str,
    pub qtype: &'static str,
    pub count: u64,
}

impl DnsStats {
    /// Sum of the cells matching the given filters (`None` matches all).
    pub fn count(&self, view: Option<&str>, rcode: Option<&str>, qtype: Option<&str>) -> u64 {
        self.queries
            .iter()
            .filter(|q| view.is_none_or(|v| q.view.as_deref() == Some(v)))
            .filter(|q| rcode.is_none_or(|r| q.rcode == r))
            .filter(|q| qtype.is_none_or(|t| q.qtype == t))
            .map(|q| q.count)
            .sum()
    }
}
