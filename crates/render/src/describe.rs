//! `gatehouse describe`: the accessible text version of the diagram, written
//! from the live topology in English, Spanish or French, as Markdown or HTML.
//!
//! It follows the organisation of the poster's own accessible text (quoted
//! in docs/reference.md): the design, the components, the user types, how traffic moves
//! for each user type with its authentication, and the legend with its
//! ports. The words come from Fluent files (`crates/render/locales/*.ftl`)
//! that use the products' established terminology in each language; the
//! facts come from [`network::Network`], which the diagram shares, so the
//! picture and the text always agree.

mod design;
pub(crate) mod doc;
pub(crate) mod i18n;
pub(crate) mod network;
mod traffic;
mod ways;
pub(crate) mod words;

use std::fmt;
use std::str::FromStr;

use gatehouse_model::Plan;

pub use i18n::Lang;

/// The output format of the description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DescribeFormat {
    /// CommonMark, as the poster's accessible text is published.
    Markdown,
    /// A self-contained HTML page with `lang`, headings and lists.
    Html,
}

impl FromStr for DescribeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(DescribeFormat::Markdown),
            "html" => Ok(DescribeFormat::Html),
            _ => Err(format!("unknown format {s:?}: choose md or html")),
        }
    }
}

impl fmt::Display for DescribeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DescribeFormat::Markdown => "md",
            DescribeFormat::Html => "html",
        })
    }
}

/// The accessible description of a compiled topology.
pub fn describe(plan: &Plan, lang: Lang, format: DescribeFormat) -> String {
    let text = i18n::Text::new(lang);
    let net = network::Network::new(plan);
    let mut doc = doc::Doc::default();
    design::write(&mut doc, &text, &net);
    traffic::write(&mut doc, &text, &net);
    match format {
        DescribeFormat::Markdown => doc.markdown(),
        DescribeFormat::Html => doc.html(lang.code()),
    }
}
