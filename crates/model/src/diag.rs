//! Diagnostics: what is wrong, where (file:line:col), and how to fix it.
//!
//! Every problem found while reading or validating a topology becomes one
//! [`Diagnostic`]. They are collected, never thrown, so that `gatehouse check`
//! reports all of them at once.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// A byte range in the topology text.
pub type Span = Range<usize>;

/// How bad a diagnostic is. Warnings never fail a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a topology file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, kebab-case identifier for tools (`unknown-key`, `unknown-reference`, ...).
    pub code: &'static str,
    /// The headline: what is wrong.
    pub message: String,
    /// The offending text, when there is one.
    pub span: Option<Span>,
    /// Short text printed under the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            hint: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic the way rustc does, with a caret under the value.
    pub fn render(&self, source: &Source<'_>, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = Group::with_title(level.primary_title(self.message.as_str()));
        if let Some(span) = &self.span {
            let span = source.clamp(span.clone());
            let mut annotation = AnnotationKind::Primary.span(span);
            if let Some(label) = &self.label {
                annotation = annotation.label(label.as_str());
            }
            group = group.element(Snippet::source(source.text).path(source.name).annotation(annotation));
        }
        let mut groups: Vec<Group<'_>> = vec![group];
        if let Some(hint) = &self.hint {
            groups.push(Group::with_title(Level::HELP.secondary_title(hint.as_str())));
        }
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        renderer.render(&groups).to_string()
    }

    /// The machine-readable form used by `--format json`.
    pub fn to_json(&self, source: &Source<'_>) -> serde_json::Value {
        let (start, end) = match &self.span {
            Some(span) => {
                let span = source.clamp(span.clone());
                (Some(source.line_col(span.start)), Some(source.line_col(span.end)))
            }
            None => (None, None),
        };
        serde_json::json!({
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": source.name,
            "line": start.map(|p| p.0),
            "column": start.map(|p| p.1),
            "end_line": end.map(|p| p.0),
            "end_column": end.map(|p| p.1),
            "label": self.label,
            "hint": self.hint,
        })
    }
}

/// The text a diagnostic points into, with the name to print for it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        Source { name, text }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Keeps a span inside the text and on character boundaries, so that
    /// rendering can never panic on a span from a confused parser.
    fn clamp(&self, span: Span) -> Span {
        let start = self.floor_char_boundary(span.start.min(self.text.len()));
        let end = self.floor_char_boundary(span.end.min(self.text.len()).max(start));
        start..end
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo:
/// similar by Jaro-Winkler, or one or two edits away (a swapped pair counts as
/// one), which catches typos in short words that Jaro-Winkler misses.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let max_edits = if word.chars().count() >= 8 { 2 } else { 1 };
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let lower = candidate.to_ascii_lowercase();
        let score = strsim::jaro_winkler(&word, &lower);
        let close = score >= 0.8 || (word.len() >= 3 && strsim::osa_distance(&word, &lower) <= max_edits);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = Source::new("t.toml", "a = 1\nné = \"x\"\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        // "é" is two bytes; the '=' at byte 10 is the 4th character of line 2.
        assert_eq!(src.line_col(10), (2, 4));
    }

    #[test]
    fn rendering_points_at_the_value() {
        let text = "[routes.owa]\npool = \"exchange-cas2\"\n";
        let src = Source::new("contoso.toml", text);
        let start = text.find("\"exchange").unwrap();
        let d = Diagnostic::error("unknown-reference", "no such pool")
            .at(start..start + 15)
            .label("did you mean \"exchange-cas\"?")
            .hint("define it under [pools]");
        let out = d.render(&src, false);
        assert!(out.contains("--> contoso.toml:2:8"), "{out}");
        assert!(out.contains("^^^^^^^^^^^^^^^ did you mean"), "{out}");
        assert!(out.contains("help: define it under [pools]"), "{out}");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let pools = ["exchange-cas", "sharepoint-wfe", "lync-fe"];
        assert_eq!(did_you_mean("exchange-cas2", pools), Some("exchange-cas"));
        assert_eq!(did_you_mean("shrepoint-wfe", pools), Some("sharepoint-wfe"));
        assert_eq!(did_you_mean("zzz", pools), None);
        assert_eq!(did_you_mean("vnp", ["internet", "vpn", "edge"]), Some("vpn"));
        assert_eq!(did_you_mean("dge", ["internet", "vpn", "edge"]), Some("edge"));
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let src = Source::new("t.toml", "é");
        let d = Diagnostic::error("x", "y").at(1..99);
        let _ = d.render(&src, false);
        assert_eq!(src.line_col(1), (1, 1));
    }
}
