//! A reader over the span-preserving TOML tree that collects every problem
//! instead of stopping at the first, and knows which keys a table may hold.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use toml::de::{DeTable, DeValue};
use toml::Spanned as TomlSpanned;

use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::topology::{PortRange, Spanned};

pub(crate) type Value<'i> = TomlSpanned<DeValue<'i>>;

/// Where diagnostics are collected while decoding.
#[derive(Default)]
pub(crate) struct Ctx {
    pub diags: Vec<Diagnostic>,
}

impl Ctx {
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

/// The type name used in "expected X, found Y" messages.
fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// One TOML table being read. Each `take` names a key as valid here;
/// `finish` reports the keys nobody took.
pub(crate) struct Fields<'a, 'i> {
    /// How messages name this table: `pool "exchange-cas"`, `[dns]`.
    pub what: String,
    pub span: Span,
    table: &'a DeTable<'i>,
    known: Vec<&'static str>,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn new(what: impl Into<String>, table: &'a DeTable<'i>, span: Span) -> Self {
        Fields {
            what: what.into(),
            span,
            table,
            known: Vec::new(),
        }
    }

    /// Reads a value that must be a table.
    pub fn of(ctx: &mut Ctx, what: impl Into<String>, value: &'a Value<'i>) -> Option<Self> {
        let what = what.into();
        match value.get_ref() {
            DeValue::Table(t) => Some(Fields::new(what, t, value.span())),
            other => {
                ctx.push(
                    Diagnostic::error(
                        "wrong-type",
                        format!("{what} must be a table, found {}", type_name(other)),
                    )
                    .at(value.span())
                    .label("expected a table")
                    .hint(format!("write it as [{what}] or as an inline table {{ ... }}")),
                );
                None
            }
        }
    }

    pub fn take(&mut self, key: &'static str) -> Option<&'a Value<'i>> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table.get(key)
    }

    /// Reports keys that no reader asked for, with the closest valid key.
    pub fn finish(self, ctx: &mut Ctx) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if self.known.contains(&name) {
                continue;
            }
            let mut d =
                Diagnostic::error("unknown-key", format!("unknown key `{name}` in {}", self.what)).at(key.span());
            d = match did_you_mean(name, self.known.iter().copied()) {
                Some(best) => d.label(format!("did you mean `{best}`?")),
                None => d.label("not a valid key here"),
            };
            ctx.push(d.hint(format!("valid keys in {}: {}", self.what, self.known.join(", "))));
        }
    }

    fn missing(&self, ctx: &mut Ctx, key: &str, example: &str) {
        ctx.push(
            Diagnostic::error("missing-key", format!("{} has no `{key}`", self.what))
                .at(self.span.clone())
                .label(format!("`{key}` is required here"))
                .hint(format!("add `{key} = {example}`")),
        );
    }

    pub fn str(&mut self, ctx: &mut Ctx, key: &'static str) -> Option<Spanned<String>> {
        self.take(key).and_then(|v| string(ctx, v, key))
    }

    pub fn req_str(&mut self, ctx: &mut Ctx, key: &'static str, example: &str) -> Option<Spanned<String>> {
        match self.take(key) {
            Some(v) => string(ctx, v, key),
            None => {
                self.missing(ctx, key, example);
                None
            }
        }
    }

    /// Reads a required value through `convert`, reporting its absence.
    pub fn req<T>(
        &mut self,
        ctx: &mut Ctx,
        key: &'static str,
        example: &str,
        convert: impl FnOnce(&mut Ctx, &'a Value<'i>) -> Option<T>,
    ) -> Option<T> {
        match self.take(key) {
            Some(v) => convert(ctx, v),
            None => {
                self.missing(ctx, key, example);
                None
            }
        }
    }

    pub fn bool(&mut self, ctx: &mut Ctx, key: &'static str, default: bool) -> bool {
        match self.take(key) {
            None => default,
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                other => {
                    ctx.push(wrong_type(key, "true or false", other, v.span()));
                    default
                }
            },
        }
    }

    pub fn u32(&mut self, ctx: &mut Ctx, key: &'static str) -> Option<Spanned<u32>> {
        self.take(key)
            .and_then(|v| integer(ctx, v, key, 0, u32::MAX as i128).map(|n| Spanned::new(n as u32, v.span())))
    }

    pub fn duration(&mut self, ctx: &mut Ctx, key: &'static str, default: Duration) -> Spanned<Duration> {
        self.opt_duration(ctx, key)
            .unwrap_or_else(|| Spanned::new(default, self.span.clone()))
    }

    pub fn opt_duration(&mut self, ctx: &mut Ctx, key: &'static str) -> Option<Spanned<Duration>> {
        self.take(key).and_then(|v| duration(ctx, v, key))
    }

    pub fn keyword<T: Copy>(
        &mut self,
        ctx: &mut Ctx,
        key: &'static str,
        all: &[(&'static str, T)],
    ) -> Option<Spanned<T>> {
        self.take(key).and_then(|v| keyword(ctx, v, key, all))
    }

    pub fn list<T>(
        &mut self,
        ctx: &mut Ctx,
        key: &'static str,
        mut item: impl FnMut(&mut Ctx, &'a Value<'i>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let v = self.take(key)?;
        match v.get_ref() {
            DeValue::Array(items) => Some(items.iter().filter_map(|i| item(ctx, i)).collect()),
            // A lone value where a list is expected is accepted as a list of one.
            DeValue::String(_) | DeValue::Integer(_) | DeValue::Table(_) => item(ctx, v).map(|x| vec![x]),
            other => {
                ctx.push(wrong_type(key, "an array", other, v.span()));
                None
            }
        }
    }

    pub fn str_list(&mut self, ctx: &mut Ctx, key: &'static str) -> Vec<Spanned<String>> {
        self.list(ctx, key, |ctx, v| string(ctx, v, key)).unwrap_or_default()
    }

    /// `[key.NAME]` tables: calls `each` with the name and the table's fields.
    pub fn named_tables(
        &mut self,
        ctx: &mut Ctx,
        key: &'static str,
        singular: &str,
        mut each: impl FnMut(&mut Ctx, Spanned<String>, Fields<'a, 'i>),
    ) {
        let Some(v) = self.take(key) else { return };
        let DeValue::Table(table) = v.get_ref() else {
            ctx.push(
                wrong_type(key, "a table of named entries", v.get_ref(), v.span())
                    .hint(format!("write each entry as [{key}.NAME]")),
            );
            return;
        };
        for (name, value) in table.iter() {
            let name = Spanned::new(name.get_ref().to_string(), name.span());
            check_name(ctx, &name, singular);
            if let Some(fields) = Fields::of(ctx, format!("{singular} \"{}\"", name.value), value) {
                each(ctx, name, fields);
            }
        }
    }
}

fn check_name(ctx: &mut Ctx, name: &Spanned<String>, singular: &str) {
    let ok = !name.value.is_empty()
        && name.value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        ctx.push(
            Diagnostic::error(
                "invalid-name",
                format!("{singular} name \"{}\" is not a valid name", name.value),
            )
            .at(name.span.clone())
            .label("use letters, digits, `-` and `_`")
            .hint("names appear in DNS views, nftables sets and logs, so they are kept to simple identifiers"),
        );
    }
}

pub(crate) fn wrong_type(key: &str, expected: &str, found: &DeValue<'_>, span: Span) -> Diagnostic {
    Diagnostic::error(
        "wrong-type",
        format!("`{key}` must be {expected}, found {}", type_name(found)),
    )
    .at(span)
    .label(format!("expected {expected}"))
}

pub(crate) fn string(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<String>> {
    match v.get_ref() {
        DeValue::String(s) => Some(Spanned::new(s.to_string(), v.span())),
        other => {
            ctx.push(wrong_type(key, "a string", other, v.span()));
            None
        }
    }
}

fn integer(ctx: &mut Ctx, v: &Value<'_>, key: &str, min: i128, max: i128) -> Option<i128> {
    match v.get_ref() {
        DeValue::Integer(i) => {
            let n = i128::from_str_radix(i.as_str(), i.radix()).ok();
            match n {
                Some(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    ctx.push(
                        Diagnostic::error("out-of-range", format!("`{key}` must be between {min} and {max}"))
                            .at(v.span())
                            .label("out of range"),
                    );
                    None
                }
            }
        }
        other => {
            ctx.push(wrong_type(key, "an integer", other, v.span()));
            None
        }
    }
}

/// A port: an integer from 1 to 65535.
pub(crate) fn port(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<u16>> {
    match v.get_ref() {
        DeValue::Integer(i) => {
            let n = i128::from_str_radix(i.as_str(), i.radix()).unwrap_or(i128::MAX);
            port_number(ctx, n, v.span()).map(|p| Spanned::new(p, v.span()))
        }
        other => {
            ctx.push(wrong_type(key, "a port number", other, v.span()));
            None
        }
    }
}

fn port_number(ctx: &mut Ctx, n: i128, span: Span) -> Option<u16> {
    if n == 0 {
        ctx.push(
            Diagnostic::error("invalid-port", "port 0 cannot be used")
                .at(span)
                .label("port 0 means \"any port\" to the operating system")
                .hint("use a port from 1 to 65535"),
        );
        None
    } else if !(1..=65535).contains(&n) {
        ctx.push(
            Diagnostic::error("invalid-port", format!("port {n} is out of range"))
                .at(span)
                .label("ports go from 1 to 65535")
                .hint("use a port from 1 to 65535"),
        );
        None
    } else {
        Some(n as u16)
    }
}

/// A port given as a number parsed from text (`host:port`, `name:port`).
pub(crate) fn port_at(ctx: &mut Ctx, n: i128, span: Span) -> Option<Spanned<u16>> {
    port_number(ctx, n, span.clone()).map(|p| Spanned::new(p, span))
}

/// A port or a range: `443` or `"50000-59999"`.
pub(crate) fn port_range(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<PortRange>> {
    match v.get_ref() {
        DeValue::Integer(_) => port(ctx, v, key).map(|p| Spanned::new(PortRange::single(p.value), p.span)),
        DeValue::String(s) => {
            let parsed = match s.split_once('-') {
                Some((a, b)) => a.trim().parse::<i128>().ok().zip(b.trim().parse::<i128>().ok()),
                None => s.trim().parse::<i128>().ok().map(|p| (p, p)),
            };
            let Some((a, b)) = parsed else {
                ctx.push(
                    Diagnostic::error("invalid-port", format!("\"{s}\" is not a port or a port range"))
                        .at(v.span())
                        .label("expected a port such as 443, or a range such as \"50000-59999\""),
                );
                return None;
            };
            let first = port_number(ctx, a, v.span())?;
            let last = port_number(ctx, b, v.span())?;
            if first > last {
                ctx.push(
                    Diagnostic::error("invalid-port", format!("port range \"{s}\" ends before it starts"))
                        .at(v.span())
                        .label("the first port must not be above the last")
                        .hint(format!("write \"{last}-{first}\"")),
                );
                return None;
            }
            Some(Spanned::new(PortRange { first, last }, v.span()))
        }
        other => {
            ctx.push(wrong_type(key, "a port or a port range", other, v.span()));
            None
        }
    }
}

/// A human duration: `"30m"`, `"90s"`, `"1h 30m"`, `"500ms"`.
pub(crate) fn duration(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<Duration>> {
    match v.get_ref() {
        DeValue::String(s) => match humantime::parse_duration(s) {
            Ok(d) => Some(Spanned::new(d, v.span())),
            Err(e) => {
                ctx.push(
                    Diagnostic::error("invalid-duration", format!("\"{s}\" is not a duration"))
                        .at(v.span())
                        .label(e.to_string())
                        .hint("write a number and a unit: \"500ms\", \"90s\", \"30m\", \"1h\""),
                );
                None
            }
        },
        DeValue::Integer(i) => {
            ctx.push(
                Diagnostic::error("invalid-duration", format!("`{key}` needs a unit"))
                    .at(v.span())
                    .label("a bare number is ambiguous")
                    .hint(format!("write it as a string with a unit, such as \"{}s\"", i.as_str())),
            );
            None
        }
        other => {
            ctx.push(wrong_type(key, "a duration such as \"30s\"", other, v.span()));
            None
        }
    }
}

/// One of a fixed set of words, with a "did you mean" for typos.
pub(crate) fn keyword<T: Copy>(
    ctx: &mut Ctx,
    v: &Value<'_>,
    key: &str,
    all: &[(&'static str, T)],
) -> Option<Spanned<T>> {
    let s = string(ctx, v, key)?;
    if let Some((_, t)) = all.iter().find(|(k, _)| k.eq_ignore_ascii_case(&s.value)) {
        return Some(Spanned::new(*t, s.span));
    }
    let words: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
    let mut d = Diagnostic::error("invalid-value", format!("\"{}\" is not a valid `{key}`", s.value)).at(s.span);
    d = match did_you_mean(&s.value, words.iter().copied()) {
        Some(best) => d.label(format!("did you mean \"{best}\"?")),
        None => d.label("not one of the valid values"),
    };
    ctx.push(d.hint(format!("`{key}` is one of: {}", words.join(", "))));
    None
}

pub(crate) fn ip(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<IpAddr>> {
    let s = string(ctx, v, key)?;
    match IpAddr::from_str(s.value.trim()) {
        Ok(a) => Some(Spanned::new(a, s.span)),
        Err(_) => {
            ctx.push(
                Diagnostic::error("invalid-address", format!("\"{}\" is not an IP address", s.value))
                    .at(s.span)
                    .label("expected an IPv4 or IPv6 address")
                    .hint("write an address such as \"203.0.113.10\" or \"2001:db8::10\""),
            );
            None
        }
    }
}

/// Parses an address prefix; a bare address is a host prefix (/32 or /128).
pub(crate) fn parse_prefix(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(net) = IpNet::from_str(s) {
        return Some(net);
    }
    IpAddr::from_str(s).ok().map(IpNet::from)
}

pub(crate) fn prefix(ctx: &mut Ctx, v: &Value<'_>, key: &str) -> Option<Spanned<IpNet>> {
    let s = string(ctx, v, key)?;
    match parse_prefix(&s.value) {
        Some(net) => {
            if net.trunc() != net {
                ctx.push(
                    Diagnostic::warning("host-bits-set", format!("prefix \"{}\" has host bits set", s.value))
                        .at(s.span.clone())
                        .label(format!("this is the network {}", net.trunc()))
                        .hint(format!("write \"{}\"", net.trunc())),
                );
            }
            Some(Spanned::new(net.trunc(), s.span))
        }
        None => {
            ctx.push(
                Diagnostic::error("invalid-prefix", format!("\"{}\" is not an address prefix", s.value))
                    .at(s.span)
                    .label("expected a prefix such as \"198.51.100.0/24\" or \"2001:db8::/32\""),
            );
            None
        }
    }
}
