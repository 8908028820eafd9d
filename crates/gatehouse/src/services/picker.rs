//! The reverse proxy picks members from the runtime's pools, so that the L4
//! VIPs, the web routes and DNS load balancing share one view of each
//! member: its health (active checks, passive ejection, draining) and its
//! count of open connections (least connections, `max_connections`).
//!
//! The proxy names a member by its index in the pool of the plan a request
//! runs on; the runtime may already serve a newer plan, so members are
//! matched by name (`host:port`), not by index. The matching is worked out
//! once per pair of plans ([`Translation`]), not per request: formatting
//! names and hashing them on every pick cost a sixth of a request. The
//! runtime's [`MemberGuard`] is the proxy's [`Hold`]: it travels with the
//! request, and dropping it ends the connection's count.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_model::topology::Pool as ModelPool;
use gatehouse_proxy::{AffinityHint, Hold, MemberPicker, PickRequest, Picked};
use gatehouse_runtime::pool::client_hash;
use gatehouse_runtime::{member_name, MemberGuard, PickContext, Pool as RuntimePool, Runtime};
use rustc_hash::FxHashMap as HashMap;

/// How one pool of a proxy plan maps onto the runtime's current pool.
struct Translation {
    /// The runtime pool it was worked out against.
    runtime: Arc<RuntimePool>,
    /// The proxy pool's members it was worked out for, to recognise that
    /// pool again without formatting names.
    members: Vec<(String, Option<u16>)>,
    /// Per proxy member: its index in `runtime`.
    to_runtime: Vec<Option<usize>>,
}

impl Translation {
    fn new(pool: &ModelPool, runtime: &Arc<RuntimePool>) -> Translation {
        Translation {
            runtime: runtime.clone(),
            members: pool
                .members
                .iter()
                .map(|m| (m.host.value.clone(), m.port.as_ref().map(|p| p.value)))
                .collect(),
            to_runtime: pool
                .members
                .iter()
                .map(|m| runtime.index_of(&member_name(&m.host.value, m.port.as_ref().map(|p| p.value))))
                .collect(),
        }
    }

    fn serves(&self, pool: &ModelPool, runtime: &Arc<RuntimePool>) -> bool {
        Arc::ptr_eq(&self.runtime, runtime) && self.lists(pool)
    }

    /// Whether it was made for a pool with these members, in this order.
    fn lists(&self, pool: &ModelPool) -> bool {
        self.members.len() == pool.members.len()
            && self
                .members
                .iter()
                .zip(&pool.members)
                .all(|((host, port), m)| *host == m.host.value && *port == m.port.as_ref().map(|p| p.value))
    }
}

/// A runtime member held by one exchange.
struct RuntimeHold(MemberGuard);

impl Hold for RuntimeHold {
    fn connected(&mut self) {
        self.0.connect_succeeded();
    }

    fn connect_failed(&mut self) {
        self.0.connect_failed("the reverse proxy could not connect");
    }
}

pub struct RuntimePicker {
    l4: Arc<Runtime>,
    /// By pool name. FxHash: the keys come from the configuration, never
    /// from a client. An `ArcSwap`, not a lock: it changes only after a
    /// reload, and reading a lock writes its count, which every worker's
    /// picks would contend for.
    translations: ArcSwap<HashMap<String, Arc<Translation>>>,
}

impl RuntimePicker {
    pub fn new(l4: Arc<Runtime>) -> RuntimePicker {
        RuntimePicker {
            l4,
            translations: ArcSwap::default(),
        }
    }

    /// Runs `f` on the translation of `pool` onto the runtime's current
    /// pool of that name, worked out again only when either side changed.
    fn with_translation<R>(&self, pool: &ModelPool, f: impl FnOnce(&Translation) -> R) -> Option<R> {
        self.l4.with_pools(|pools| {
            let runtime = pools.get(&pool.name.value)?;
            if let Some(t) = self.translations.load().get(&pool.name.value) {
                if t.serves(pool, runtime) {
                    return Some(f(t));
                }
            }
            let fresh = Arc::new(Translation::new(pool, runtime));
            self.translations.rcu(|known| {
                let mut known = HashMap::clone(known);
                known.insert(pool.name.value.clone(), fresh.clone());
                known
            });
            Some(f(&fresh))
        })
    }
}

impl MemberPicker for RuntimePicker {
    fn pick(&self, req: &PickRequest<'_>) -> Option<Picked> {
        self.with_translation(req.pool, |t| pick_in(t, req)).flatten()
    }

    fn hold(&self, pool: &ModelPool, member: usize) -> Option<Box<dyn Hold>> {
        self.with_translation(pool, |t| {
            let guard = t
                .to_runtime
                .get(member)
                .copied()
                .flatten()
                .and_then(|i| t.runtime.hold(i))?;
            Some(Box::new(RuntimeHold(guard)) as Box<dyn Hold>)
        })
        .flatten()
    }
}

/// A pick from the runtime pool that `t` translates onto.
fn pick_in(t: &Translation, req: &PickRequest<'_>) -> Option<Picked> {
    let to_runtime = |i: usize| t.to_runtime.get(i).copied().flatten();
    let exclude: Vec<usize> = req.exclude.iter().filter_map(|&i| to_runtime(i)).collect();
    let ctx = PickContext {
        client: req.client,
        sticky_member: match req.affinity {
            AffinityHint::Member(i) => to_runtime(i),
            _ => None,
        },
        affinity: (req.affinity == AffinityHint::SourceIp).then(|| client_hash(req.client)),
        exclude: &exclude,
    };
    let guard = t.runtime.pick(&ctx)?;
    let member = t.to_runtime.iter().position(|&r| r == Some(guard.index()))?;
    Some(Picked {
        member,
        hold: Box::new(RuntimeHold(guard)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn plan(algorithm: &str, members: &str) -> Arc<gatehouse_model::Plan> {
        let text = format!(
            "[gatehouse]\nname = \"t\"\ndefault_zone = \"lab\"\n[zones.lab]\nprefixes = [\"127.0.0.0/8\"]\n\
             [services.web]\nproduct = \"generic\"\nclass = \"sharepoint\"\n\
             [pools.web]\nservice = \"web\"\nalgorithm = \"{algorithm}\"\nmembers = [{members}]\n"
        );
        let checked = gatehouse_model::check(&text);
        Arc::new(checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)))
    }

    fn pick(picker: &RuntimePicker, pool: &ModelPool) -> Picked {
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        picker
            .pick(&PickRequest {
                pool,
                client,
                affinity: AffinityHint::None,
                exclude: &[],
            })
            .expect("a member")
    }

    /// Picks, and ends the exchange at once (a connect failure would count
    /// against the member's health).
    fn pick_and_finish(picker: &RuntimePicker, pool: &ModelPool) -> usize {
        let mut picked = pick(picker, pool);
        picked.hold.connected();
        picked.member
    }

    #[tokio::test]
    async fn open_exchanges_count_on_the_runtimes_members_across_a_reload() {
        let first = plan("least-connections", r#""127.0.0.1:1001", "127.0.0.1:1002""#);
        let runtime = Arc::new(Runtime::start(first.clone()).unwrap());
        let picker = RuntimePicker::new(runtime.clone());
        let pool = first.pool("web").unwrap();

        // One exchange open on whichever member came first: least
        // connections sends the next ones to the other.
        let mut held_a = pick(&picker, pool);
        held_a.hold.connected();
        let a = held_a.member;
        let b = 1 - a;
        assert_eq!(pick_and_finish(&picker, pool), b);
        assert_eq!(pick_and_finish(&picker, pool), b, "a is still busy");

        // The runtime reloads a plan that lists the members the other way
        // round, while the proxy's requests still run on the first plan.
        let second = plan("least-connections", r#""127.0.0.1:1002", "127.0.0.1:1001""#);
        runtime.reload(second.clone()).unwrap();
        assert_eq!(
            pick_and_finish(&picker, pool),
            b,
            "names, not indices, cross the reload"
        );
        let pool2 = second.pool("web").unwrap();
        assert_eq!(pick_and_finish(&picker, pool2), 1 - b, "b in the new plan's numbering");

        // A pinned connection's request counts on its member without a
        // pick: with a released, b is now the busy one.
        drop(held_a);
        let mut pinned_b = picker.hold(pool, b).expect("b is in the pool");
        pinned_b.connected();
        assert_eq!(pick_and_finish(&picker, pool), a);
        drop(pinned_b);
        assert!(picker.hold(pool, 2).is_none(), "no third member");
        drop(runtime);
    }
}
