//! The languages gatehouse writes in, and their Fluent messages.
//!
//! One `.ftl` file per language under `crates/render/locales/`, embedded at
//! build time. A message missing from a translation falls back to English,
//! and the tests check that no translation misses one.

use std::fmt;
use std::str::FromStr;

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};

/// A language of the description and the diagram's labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Es,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Fr];

    /// The BCP 47 code: `en`, `es`, `fr`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
        }
    }

    /// The language's Fluent source.
    pub fn messages(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../locales/en.ftl"),
            Lang::Es => include_str!("../../locales/es.ftl"),
            Lang::Fr => include_str!("../../locales/fr.ftl"),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Lang, String> {
        let primary = s.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        Lang::ALL
            .into_iter()
            .find(|l| l.code() == primary)
            .ok_or_else(|| format!("unknown language {s:?}: choose en, es or fr"))
    }
}

/// A Fluent argument value.
pub(crate) type Arg = FluentValue<'static>;

/// A string argument.
pub(crate) fn s(text: impl Into<String>) -> Arg {
    FluentValue::from(text.into())
}

/// A number argument, for plural selection.
pub(crate) fn n(count: usize) -> Arg {
    FluentValue::from(count)
}

/// The messages of one language, with English behind them.
pub(crate) struct Text {
    bundle: FluentBundle<FluentResource>,
    english: Option<FluentBundle<FluentResource>>,
}

impl Text {
    pub fn new(lang: Lang) -> Text {
        Text {
            bundle: bundle(lang),
            english: (lang != Lang::En).then(|| bundle(Lang::En)),
        }
    }

    /// Whether the language (not its English fallback) has this message.
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }

    /// A message without arguments.
    pub fn get(&self, id: &str) -> String {
        self.fmt(id, &[])
    }

    /// A message with arguments.
    ///
    /// # Panics
    /// When the message exists in no bundle: a programming error that the
    /// tests of every language catch.
    pub fn fmt(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let bundle = if self.bundle.has_message(id) {
            &self.bundle
        } else {
            self.english
                .as_ref()
                .filter(|b| b.has_message(id))
                .unwrap_or(&self.bundle)
        };
        let pattern = bundle
            .get_message(id)
            .and_then(|m| m.value())
            .unwrap_or_else(|| panic!("no Fluent message {id:?}"));
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        let out = bundle.format_pattern(pattern, Some(&fargs), &mut errors);
        debug_assert!(errors.is_empty(), "Fluent message {id:?}: {errors:?}");
        out.into_owned()
    }

    /// "a, b and c" in the language.
    pub fn and_list(&self, items: &[String]) -> String {
        self.join(items, "list-and")
    }

    /// "a, b or c" in the language.
    pub fn or_list(&self, items: &[String]) -> String {
        self.join(items, "list-or")
    }

    fn join(&self, items: &[String], id: &str) -> String {
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => self.fmt(id, &[("first", s(init.join(", "))), ("last", s(last.clone()))]),
        }
    }
}

fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let resource = FluentResource::try_new(lang.messages().to_string())
        .unwrap_or_else(|(_, e)| panic!("locales/{lang}.ftl does not parse: {e:?}"));
    let id: unic_langid::LanguageIdentifier = lang.code().parse().expect("a valid language identifier");
    let mut bundle = FluentBundle::new(vec![id]);
    // No Unicode isolation marks: the output is Markdown, HTML and SVG text,
    // read by people and compared by tests, and all three languages are LTR.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .unwrap_or_else(|e| panic!("locales/{lang}.ftl defines a message twice: {e:?}"));
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message identifiers a Fluent source defines.
    fn message_ids(source: &str) -> Vec<String> {
        let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(_, e)| panic!("{e:?}"));
        resource
            .body
            .iter()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_translation_defines_exactly_the_english_messages() {
        let english = message_ids(Lang::En.messages());
        assert!(english.len() > 50, "the English file defines the messages");
        for lang in [Lang::Es, Lang::Fr] {
            let ids = message_ids(lang.messages());
            let missing: Vec<&String> = english.iter().filter(|id| !ids.contains(id)).collect();
            let extra: Vec<&String> = ids.iter().filter(|id| !english.contains(id)).collect();
            assert!(missing.is_empty(), "{lang}.ftl misses {missing:?}");
            assert!(extra.is_empty(), "{lang}.ftl has messages English lacks: {extra:?}");
        }
    }

    #[test]
    fn languages_parse_from_their_codes_and_regions() {
        assert_eq!("es".parse::<Lang>(), Ok(Lang::Es));
        assert_eq!("fr-CA".parse::<Lang>(), Ok(Lang::Fr));
        assert_eq!("EN".parse::<Lang>(), Ok(Lang::En));
        assert!("de".parse::<Lang>().unwrap_err().contains("en, es or fr"));
    }

    #[test]
    fn lists_join_with_the_language_conjunction() {
        let items = ["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(Text::new(Lang::En).and_list(&items), "a, b and c");
        assert_eq!(Text::new(Lang::Es).and_list(&items), "a, b y c");
        assert_eq!(Text::new(Lang::Fr).or_list(&items), "a, b ou c");
    }
}
