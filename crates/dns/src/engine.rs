//! The query path: one message in, at most one message out, with no I/O.
//!
//! Phases, in order, each of which may end the query:
//! 1. **gate**: the client's zone and the gateway ACL for port 53. A denied
//!    client is dropped without an answer (over TCP its connection is
//!    closed), as the gateway router would drop its packets; answering
//!    REFUSED would hand spoofed sources a reflector.
//! 2. **parse**: too short or a response → dropped; malformed → FORMERR;
//!    opcode other than QUERY → NOTIMP, echoing only the ID and opcode.
//! 3. **limit** (UDP only): response rate limiting per client prefix.
//! 4. **view**: the zone's view; a zone in no view gets REFUSED.
//! 5. **answer**: EDNS version, class, our zone (else REFUSED, RA=0),
//!    transfers (REFUSED unless allowed), then the precomputed answer with
//!    the client's ID and question patched in; too big for the client's
//!    UDP size → empty answer with TC=1.
//!
//! [`Engine`] also owns the current data: reloads and health changes build
//! a new [`Snapshot`] off to the side and swap it in whole, so a query sees
//! the old data or the new, never a mix.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use gatehouse_model::topology::Transport;
use gatehouse_model::{AcceptVerdict, Plan};
use gatehouse_policy::LogLimiter;

use crate::answer::{compile, Answer, Compiled};
use crate::config::DnsConfig;
use crate::health::MemberHealth;
use crate::rrl::{RateLimiter, RrlVerdict};
use crate::stats::{DnsStats, Event, Stats};
use crate::wire::{self, flag, parse_query, rcode, rtype, Query, Reject, CLASS_IN, HEADER_LEN};
use crate::{zone, DnsError};

/// Everything one query needs, immutable once built.
pub struct Snapshot {
    pub plan: Arc<Plan>,
    pub config: Arc<DnsConfig>,
    pub compiled: Compiled,
    pub serial: u32,
    pub stats: Stats,
    pub rrl: RateLimiter,
    /// Up/down of every DNS-balanced pool member, to skip needless rebuilds.
    health_key: Vec<bool>,
}

/// Views compiled by [`Engine::prepare`], for [`Engine::commit`].
pub struct PreparedData(Snapshot);

impl std::fmt::Debug for PreparedData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedData")
            .field("serial", &self.0.serial)
            .finish_non_exhaustive()
    }
}

/// Whether to send what [`Engine::respond`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Drop,
}

/// Per-thread state of a caller of [`Engine::respond`].
#[derive(Debug, Default)]
pub struct Worker {
    /// Counter shard; give each thread its own.
    pub shard: usize,
    rotation: usize,
}

impl Worker {
    pub fn new(shard: usize) -> Worker {
        Worker { shard, rotation: 0 }
    }

    /// A worker whose DNS-balanced answers start at rotation `rotation`, so
    /// that short-lived callers (one TCP connection) do not all start alike.
    pub fn with_rotation(shard: usize, rotation: usize) -> Worker {
        Worker { shard, rotation }
    }
}

/// The compiled views, the query path, and atomic reloads.
pub struct Engine {
    current: ArcSwap<Snapshot>,
    health: Arc<dyn MemberHealth>,
    shards: usize,
    denials: LogLimiter,
    /// Serialises rebuilds (reload against health refresh).
    rebuild: Mutex<()>,
}

fn unix_serial() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32)
}

fn health_key(plan: &Plan, health: &dyn MemberHealth) -> Vec<bool> {
    plan.topology
        .pools
        .iter()
        .filter(|p| p.dns_balanced)
        .flat_map(|p| (0..p.members.len()).map(move |i| health.is_up(&p.name.value, i)))
        .collect()
}

fn build(
    plan: Arc<Plan>,
    config: Arc<DnsConfig>,
    health: &dyn MemberHealth,
    serial: u32,
    shards: usize,
) -> Result<Snapshot, DnsError> {
    let health_key = health_key(&plan, health);
    let data = zone::build(&plan, &config, health, serial)?;
    let compiled = compile(data, config.wildcards);
    let stats = Stats::new(compiled.views.iter().map(|v| v.name.clone()).collect(), shards);
    Ok(Snapshot {
        rrl: RateLimiter::new(&config.rrl),
        plan,
        config,
        compiled,
        serial,
        stats,
        health_key,
    })
}

impl Engine {
    /// Compiles `plan`'s views. `shards` is the number of threads that will
    /// call [`respond`](Self::respond) at once (each with its own
    /// [`Worker::shard`]).
    pub fn new(
        plan: Arc<Plan>,
        health: Arc<dyn MemberHealth>,
        config: DnsConfig,
        shards: usize,
    ) -> Result<Engine, DnsError> {
        let snap = build(plan, Arc::new(config), health.as_ref(), unix_serial(), shards)?;
        for w in &snap.compiled.warnings {
            tracing::warn!("dns: {w}");
        }
        Ok(Engine {
            current: ArcSwap::from_pointee(snap),
            health,
            shards: shards.max(1),
            denials: LogLimiter::new(10, Duration::from_secs(10)),
            rebuild: Mutex::new(()),
        })
    }

    /// The data queries are answered from right now.
    pub fn current(&self) -> &ArcSwap<Snapshot> {
        &self.current
    }

    /// Swaps in `plan` (and `config`, if given). On error the old data
    /// stays in service. The SOA serial moves forward.
    pub fn reload(&self, plan: Arc<Plan>, config: Option<DnsConfig>) -> Result<(), DnsError> {
        let prepared = self.prepare(plan, config)?;
        self.commit(prepared);
        Ok(())
    }

    /// The first half of a reload: compiles `plan`'s views beside the ones
    /// in service, which stay in service. Dropping the result changes
    /// nothing.
    pub fn prepare(&self, plan: Arc<Plan>, config: Option<DnsConfig>) -> Result<PreparedData, DnsError> {
        let old = self.current.load_full();
        let config = config.map_or_else(|| old.config.clone(), Arc::new);
        let serial = unix_serial().max(old.serial.wrapping_add(1));
        let snap = build(plan, config, self.health.as_ref(), serial, self.shards)?;
        Ok(PreparedData(snap))
    }

    /// The second half: the prepared views answer from here on.
    pub fn commit(&self, prepared: PreparedData) {
        let snap = prepared.0;
        {
            let _guard = self.rebuild.lock().unwrap_or_else(PoisonError::into_inner);
            for w in &snap.compiled.warnings {
                tracing::warn!("dns: {w}");
            }
            snap.stats.carry_over(&self.current.load().stats.snapshot());
            self.current.store(Arc::new(snap));
        }
        // Health that changed since `prepare` was folded into the old
        // views only.
        self.refresh_health();
    }

    /// Carries `other`'s query counters into this engine's, for a server
    /// that takes over from another on reload.
    pub fn carry_stats_from(&self, other: &Engine) {
        self.current
            .load()
            .stats
            .carry_over(&other.current.load().stats.snapshot());
    }

    /// Rebuilds the DNS-balanced answers if any member's health changed
    /// since the last build. Returns whether anything changed.
    pub fn refresh_health(&self) -> bool {
        let _guard = self.rebuild.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.current.load_full();
        if health_key(&old.plan, self.health.as_ref()) == old.health_key {
            return false;
        }
        match build(
            old.plan.clone(),
            old.config.clone(),
            self.health.as_ref(),
            old.serial,
            self.shards,
        ) {
            Ok(snap) => {
                for w in snap
                    .compiled
                    .warnings
                    .iter()
                    .filter(|w| w.contains("no member is healthy"))
                {
                    tracing::warn!("dns: {w}");
                }
                snap.stats.carry_over(&old.stats.snapshot());
                self.current.store(Arc::new(snap));
                true
            }
            Err(e) => {
                // Cannot happen for a plan that built before; keep serving.
                tracing::error!("dns: health refresh failed, keeping the previous answers: {e}");
                false
            }
        }
    }

    pub fn stats(&self) -> DnsStats {
        self.current.load().stats.snapshot()
    }

    /// Gateway ACL hits of the plan in service: one per rule, then the
    /// implicit deny. The plan's one set, which every part serving the plan
    /// counts into; a DNS server alone counts only its queries.
    pub fn acl_hits(&self) -> Vec<u64> {
        self.current.load().plan.acl_hits.snapshot()
    }

    /// Answers one message from `src`, received on local `port`, into `out`
    /// (cleared first). The gateway ACL judges the port the query arrived on,
    /// as the nftables export does.
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &self,
        snap: &Snapshot,
        w: &mut Worker,
        msg: &[u8],
        src: IpAddr,
        transport: Transport,
        port: u16,
        out: &mut Vec<u8>,
    ) -> Verdict {
        out.clear();
        let plan = &snap.plan;
        // gate
        // The shared accept decision, counted in this worker's own shard.
        let accept = plan.decide_accept(src, transport, port, None);
        plan.acl_hits.count_in(w.shard, &accept.decision);
        let zone = accept.zone;
        if let AcceptVerdict::AclDenied(rule) = accept.verdict {
            snap.stats.event(w.shard, Event::AclDrop);
            self.log_denial(plan, zone, src, transport, rule);
            return Verdict::Drop;
        }
        let view = snap
            .compiled
            .zone_view
            .get(zone.0 as usize)
            .copied()
            .flatten()
            .map(usize::from);
        // parse
        let q = match parse_query(msg) {
            Ok(q) => q,
            Err(Reject::Drop) => return Verdict::Drop,
            Err(Reject::Reply(rc)) => {
                let flags = wire::reject_flags(u16::from_be_bytes([msg[2], msg[3]]), rc);
                wire::header(out, u16::from_be_bytes([msg[0], msg[1]]), flags, [0; 4]);
                snap.stats.count(w.shard, view, rc, 0);
                return Verdict::Send;
            }
        };
        let udp = transport == Transport::Udp;
        let ours = snap.config.max_udp_payload.max(512);
        let max = match (udp, q.edns) {
            (false, _) => 65535,
            (true, Some(e)) => usize::from(e.payload.clamp(512, ours)),
            (true, None) => 512,
        };
        let reply = Reply {
            msg,
            q: &q,
            max,
            payload: ours,
        };
        // limit
        if udp {
            match snap.rrl.check(src, Instant::now()) {
                RrlVerdict::Pass => {}
                RrlVerdict::Drop => {
                    snap.stats.event(w.shard, Event::RrlDrop);
                    return Verdict::Drop;
                }
                RrlVerdict::Slip => {
                    snap.stats.event(w.shard, Event::RrlSlip);
                    reply.write(out, false, rcode::NOERROR, [0; 3], &[], true);
                    return Verdict::Send;
                }
            }
        }
        // view, answer
        let (rc, truncated) = self.answer(snap, w, view, &reply, src, transport, out);
        if truncated {
            snap.stats.event(w.shard, Event::Truncated);
        }
        snap.stats.count(w.shard, view, rc, q.qtype);
        Verdict::Send
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        snap: &Snapshot,
        w: &mut Worker,
        view: Option<usize>,
        r: &Reply,
        src: IpAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> (u8, bool) {
        let q = r.q;
        let c = &snap.compiled;
        let refused = |out: &mut Vec<u8>| (rcode::REFUSED, r.write(out, false, rcode::REFUSED, [0; 3], &[], false));
        let Some(view) = view else { return refused(out) };
        if q.edns.is_some_and(|e| e.version > 0) {
            return (rcode::BADVERS, r.write(out, false, rcode::BADVERS, [0; 3], &[], false));
        }
        let qname = q.qname();
        let Some(apex_at) = wire::suffix_offset(qname, c.apex.wire()) else {
            return refused(out);
        };
        if q.qclass != CLASS_IN {
            return refused(out);
        }
        let va = &c.views[view];
        if matches!(q.qtype, rtype::AXFR | rtype::IXFR) {
            let allowed = apex_at == 0
                && snap
                    .config
                    .allow_transfer
                    .iter()
                    .any(|n| n.contains(&src.to_canonical()));
            let a = match (allowed, transport, q.qtype) {
                (true, Transport::Tcp, _) => &va.axfr,
                (true, Transport::Udp, rtype::IXFR) => &va.soa_only,
                _ => return refused(out),
            };
            if a.body.len() + HEADER_LEN + 300 > 65535 {
                tracing::error!("dns: view \"{}\" is too large for a one-message AXFR", va.name);
                return (
                    rcode::SERVFAIL,
                    r.write(out, false, rcode::SERVFAIL, [0; 3], &[], false),
                );
            }
            return (a.rcode, r.answer(out, a));
        }
        let found = va.exact.get(qname).or_else(|| {
            if va.wildcards.is_empty() {
                return None;
            }
            // The closest encloser is the longest existing ancestor; only a
            // wildcard directly under it applies (RFC 4592 §3.3.1).
            let mut at = usize::from(qname[0]) + 1;
            while at <= apex_at {
                if va.exact.contains_key(&qname[at..]) {
                    return va.wildcards.get(&qname[at..]);
                }
                at += usize::from(qname[at]) + 1;
            }
            None
        });
        match found {
            Some(node) => {
                let variants = node.get(q.qtype);
                let a = &variants[w.rotation % variants.len()];
                if variants.len() > 1 {
                    w.rotation = w.rotation.wrapping_add(1);
                }
                (a.rcode, r.answer(out, a))
            }
            None => {
                // NXDOMAIN with the SOA, its owner a pointer to the apex
                // inside the question.
                let ptr = (0xc000 | (HEADER_LEN + apex_at) as u16).to_be_bytes();
                let t = r.write(out, true, rcode::NXDOMAIN, [0, 1, 0], &[&ptr, &c.nx_soa_tail], false);
                (rcode::NXDOMAIN, t)
            }
        }
    }

    fn log_denial(&self, plan: &Plan, zone: gatehouse_policy::ZoneId, src: IpAddr, t: Transport, rule: Option<usize>) {
        if self.denials.allow(Instant::now()) {
            let rule = rule.map_or("implicit deny", |i| plan.acl.rules()[i].name.as_str());
            let suppressed = self.denials.take_suppressed();
            tracing::info!(
                %src, zone = plan.zone_name(zone), transport = t.keyword(), rule, suppressed,
                "dns: query dropped by the gateway ACL"
            );
        }
    }
}

/// Writes responses to one parsed query.
struct Reply<'a> {
    msg: &'a [u8],
    q: &'a Query,
    /// Largest message the client accepts.
    max: usize,
    /// Our advertised EDNS payload size.
    payload: u16,
}

impl Reply<'_> {
    fn answer(&self, out: &mut Vec<u8>, a: &Answer) -> bool {
        self.write(out, true, a.rcode, a.counts, &[&a.body], false)
    }

    /// Header, the client's question, `body`, and OPT if the client sent
    /// one. Returns whether the answer had to be truncated.
    fn write(&self, out: &mut Vec<u8>, aa: bool, rc: u8, counts: [u16; 3], body: &[&[u8]], tc: bool) -> bool {
        let q = self.q;
        let edns = u16::from(q.edns.is_some());
        let mut flags = flag::QR | (q.flags & (flag::RD | flag::CD)) | u16::from(rc & 0xf);
        if aa {
            flags |= flag::AA;
        }
        let question = &self.msg[HEADER_LEN..q.question_end];
        let body_len: usize = body.iter().map(|b| b.len()).sum();
        let total = HEADER_LEN + question.len() + body_len + 11 * usize::from(edns);
        let truncate = tc || total > self.max;
        if truncate {
            flags |= flag::TC;
            wire::header(out, q.id, flags, [1, 0, 0, edns]);
            out.extend_from_slice(question);
        } else {
            wire::header(out, q.id, flags, [1, counts[0], counts[1], counts[2] + edns]);
            out.extend_from_slice(question);
            for b in body {
                out.extend_from_slice(b);
            }
        }
        if edns == 1 {
            wire::opt(out, self.payload, rc);
        }
        truncate && !tc
    }
}
