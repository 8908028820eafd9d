//! A small document model (headings, paragraphs, nested lists) and its two
//! renderings: Markdown and a self-contained, accessible HTML page. The
//! description is built once as a [`Doc`] so both formats say the same.

use std::fmt::Write;

/// A run of text inside a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inline {
    Text(String),
    /// A name from the topology: zone, pool, rule, provider.
    Code(String),
    Strong(String),
    /// A URL shown as itself.
    Link(String),
}

/// A list item: its text and any nested blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Item {
    pub text: Vec<Inline>,
    pub children: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    Heading(u8, String),
    Para(Vec<Inline>),
    List { ordered: bool, items: Vec<Item> },
}

/// A whole document: a title (the level-1 heading) and its blocks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Doc {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn heading(&mut self, level: u8, text: impl Into<String>) {
        self.blocks.push(Block::Heading(level, text.into()));
    }

    pub fn para(&mut self, inlines: Vec<Inline>) {
        self.blocks.push(Block::Para(inlines));
    }

    pub fn text(&mut self, text: impl Into<String>) {
        self.para(vec![Inline::Text(text.into())]);
    }

    pub fn list(&mut self, ordered: bool, items: Vec<Item>) {
        if !items.is_empty() {
            self.blocks.push(Block::List { ordered, items });
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n", md_text(&self.title));
        for b in &self.blocks {
            out.push('\n');
            md_block(&mut out, b, 0);
        }
        out
    }

    pub fn html(&self, lang: &str) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\" />\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
             <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            html_text(&self.title),
            html_text(&self.title)
        );
        let mut used = Vec::new();
        for b in &self.blocks {
            html_block(&mut out, b, &mut used);
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0 auto; max-width: 52rem; \
padding: 1rem; }\ncode { font-size: 0.95em; }\nli { margin: 0.2rem 0; }\n";

pub(crate) fn item(text: Vec<Inline>) -> Item {
    Item {
        text,
        children: Vec::new(),
    }
}

fn md_block(out: &mut String, b: &Block, indent: usize) {
    let pad = " ".repeat(indent);
    match b {
        Block::Heading(level, text) => {
            let _ = writeln!(out, "{} {}", "#".repeat(*level as usize), md_text(text));
        }
        Block::Para(inlines) => {
            let _ = writeln!(out, "{pad}{}", md_inlines(inlines));
        }
        Block::List { ordered, items } => {
            for (i, it) in items.iter().enumerate() {
                let marker = if *ordered {
                    format!("{}.", i + 1)
                } else {
                    "-".to_string()
                };
                let _ = writeln!(out, "{pad}{marker} {}", md_inlines(&it.text));
                for child in &it.children {
                    md_block(out, child, indent + marker.len() + 1);
                }
            }
        }
    }
}

fn md_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(s) => md_text(s),
            Inline::Strong(s) => format!("**{}**", md_text(s)),
            Inline::Code(s) if s.contains('`') => format!("`` {s} ``"),
            Inline::Code(s) => format!("`{s}`"),
            Inline::Link(url) => format!("<{url}>"),
        })
        .collect()
}

/// Escapes the characters Markdown would read as markup.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn html_block(out: &mut String, b: &Block, used: &mut Vec<String>) {
    match b {
        Block::Heading(level, text) => {
            let id = unique(slug(text), used);
            let _ = writeln!(out, "<h{level} id=\"{id}\">{}</h{level}>", html_text(text));
        }
        Block::Para(inlines) => {
            let _ = writeln!(out, "<p>{}</p>", html_inlines(inlines));
        }
        Block::List { ordered, items } => {
            let tag = if *ordered { "ol" } else { "ul" };
            let _ = writeln!(out, "<{tag}>");
            for it in items {
                out.push_str("<li>");
                out.push_str(&html_inlines(&it.text));
                if !it.children.is_empty() {
                    out.push('\n');
                    for child in &it.children {
                        html_block(out, child, used);
                    }
                }
                out.push_str("</li>\n");
            }
            let _ = writeln!(out, "</{tag}>");
        }
    }
}

fn html_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(s) => html_text(s),
            Inline::Strong(s) => format!("<strong>{}</strong>", html_text(s)),
            Inline::Code(s) => format!("<code>{}</code>", html_text(s)),
            Inline::Link(url) => format!("<a href=\"{0}\">{0}</a>", html_text(url)),
        })
        .collect()
}

pub(crate) fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A heading's anchor: lower-case letters and digits joined by hyphens.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn unique(base: String, used: &mut Vec<String>) -> String {
    let mut id = base.clone();
    let mut n = 1;
    while used.contains(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    used.push(id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    fn code(s: &str) -> Inline {
        Inline::Code(s.into())
    }

    fn sample() -> Doc {
        let mut d = Doc {
            title: "A <b> & c".into(),
            ..Doc::default()
        };
        d.heading(2, "Users");
        d.heading(2, "Users");
        d.list(
            true,
            vec![Item {
                text: vec![t("pool "), code("a_b"), t(" *x*")],
                children: vec![Block::List {
                    ordered: false,
                    items: vec![item(vec![Inline::Link("https://x.example".into())])],
                }],
            }],
        );
        d
    }

    #[test]
    fn markdown_escapes_markup_and_nests_lists_under_their_item() {
        let md = sample().markdown();
        assert_eq!(
            md,
            "# A \\<b\\> & c\n\n## Users\n\n## Users\n\n1. pool `a_b` \\*x\\*\n   - <https://x.example>\n"
        );
    }

    #[test]
    fn html_escapes_text_and_gives_headings_unique_anchors() {
        let html = sample().html("fr");
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"fr\">"));
        assert!(html.contains("<title>A &lt;b&gt; &amp; c</title>"));
        assert!(html.contains("<h2 id=\"users\">Users</h2>\n<h2 id=\"users-2\">Users</h2>"));
        assert!(html.contains("<li>pool <code>a_b</code> *x*\n<ul>\n<li><a href=\"https://x.example\">"));
    }
}
