//! Names and strings as nft reads them: identifiers made from topology names,
//! quoted comments, and port sets.

use std::collections::HashSet;

use gatehouse_policy::PortRange;

/// Hands out nft identifiers (sets, chains, counters) that are valid and unique.
#[derive(Default)]
pub(crate) struct Idents {
    taken: HashSet<String>,
}

impl Idents {
    /// `kind_name`, with characters nft does not accept in an unquoted
    /// identifier replaced, and a number appended when two topology names
    /// would otherwise collide (`a.b` and `a_b`).
    pub(crate) fn make(&mut self, kind: &str, name: &str) -> String {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if clean.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}_{clean}")
        };
        let mut id = base.clone();
        let mut n = 2;
        while !self.taken.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        id
    }
}

/// A `comment "..."` argument: nft strings cannot hold a double quote and the
/// kernel keeps at most 128 bytes of a comment.
pub(crate) fn quoted(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .collect();
    if s.len() > 128 {
        let mut cut = 125;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    format!("\"{s}\"")
}

/// Sorted, merged port ranges; inverted ranges match nothing and are dropped,
/// as the ACL engine does.
pub(crate) fn merge_ports(ports: &[PortRange]) -> Vec<PortRange> {
    let mut sorted: Vec<PortRange> = ports.iter().copied().filter(|r| r.first <= r.last).collect();
    sorted.sort_unstable_by_key(|r| (r.first, r.last));
    let mut out: Vec<PortRange> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match out.last_mut() {
            Some(cur) if r.first <= cur.last.saturating_add(1) => cur.last = cur.last.max(r.last),
            _ => out.push(r),
        }
    }
    out
}

pub(crate) fn port_text(r: PortRange) -> String {
    if r.first == r.last {
        r.first.to_string()
    } else {
        format!("{}-{}", r.first, r.last)
    }
}

/// `25`, `50000-59999` or `{ 80, 443 }`: one element bare, several as a set.
pub(crate) fn port_set(ports: &[PortRange]) -> String {
    match ports {
        [one] => port_text(*one),
        many => format!(
            "{{ {} }}",
            many.iter().map(|p| port_text(*p)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Elements as an nft set expression: bare when there is one.
pub(crate) fn element_set(elements: &[String]) -> String {
    match elements {
        [one] => one.clone(),
        many => format!("{{ {} }}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_sanitised_and_unique() {
        let mut ids = Idents::default();
        assert_eq!(ids.make("zone", "intranet"), "zone_intranet");
        assert_eq!(ids.make("zone", "a.b"), "zone_a_b");
        assert_eq!(ids.make("zone", "a_b"), "zone_a_b_2");
        assert_eq!(ids.make("listener", "https-public"), "listener_https-public");
    }

    #[test]
    fn comments_lose_quotes_and_stay_within_the_kernel_limit() {
        assert_eq!(quoted("say \"hi\""), "\"say 'hi'\"");
        let long = quoted(&"é".repeat(100));
        assert!(long.len() <= 130, "{}", long.len());
        assert!(long.ends_with("...\""));
    }

    #[test]
    fn ports_merge_into_one_set() {
        let p = |a, b| PortRange::new(a, b);
        let merged = merge_ports(&[p(443, 443), p(80, 80), p(81, 90), p(9, 1)]);
        assert_eq!(port_set(&merged), "{ 80-90, 443 }");
        assert_eq!(port_set(&merge_ports(&[p(25, 25)])), "25");
    }
}
