//! `gatehouse check`: every problem at once, as text or JSON.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse_model::{Checked, Diagnostic, Plan, Source};

use crate::load::{load, Unreadable};

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

pub fn main(args: Args) -> ExitCode {
    let Args {
        file,
        format,
        color: colour,
    } = args;
    let loaded = match load(file.as_deref()) {
        Ok(l) => l,
        Err(Unreadable(why)) => {
            match format {
                Format::Text => eprintln!("error: {why}"),
                Format::Json => println!("{}", serde_json::json!({ "valid": false, "unreadable": why })),
            }
            return ExitCode::from(2);
        }
    };
    let mut checked = gatehouse_model::check(&loaded.text);
    if let Some(plan) = &checked.plan {
        let base_dir = file
            .as_deref()
            .and_then(|f| f.parent())
            .map(|d| d.to_path_buf())
            .unwrap_or_default();
        checked.diagnostics.extend(certificate_diagnostics(plan, &base_dir));
    }
    let source = Source::new(&loaded.name, &loaded.text);
    match format {
        Format::Text => {
            let colour = match colour {
                Colour::Always => true,
                Colour::Never => false,
                Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            print!("{}", text_report(&checked, &source, colour));
        }
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&checked, &source)).expect("JSON of plain values")
        ),
    }
    if checked.plan.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub fn text_report(checked: &Checked, source: &Source<'_>, colour: bool) -> String {
    let mut out = String::new();
    for d in &checked.diagnostics {
        out.push_str(&d.render(source, colour));
        out.push_str("\n\n");
    }
    match &checked.plan {
        Some(plan) => {
            let t = &plan.topology;
            out.push_str(&format!(
                "{}: valid: {}, {}, {}, {}, {}, {}; {}\n",
                source.name,
                plural(t.zones.len(), "zone"),
                plural(t.listeners.len(), "listener"),
                plural(t.pools.len(), "pool"),
                plural(t.routes.len(), "route"),
                plural(t.user_types.len(), "user type"),
                plural(t.acl.len(), "ACL rule"),
                plural(checked.warnings(), "warning"),
            ));
        }
        None => out.push_str(&format!(
            "{}: invalid: {}, {}\n",
            source.name,
            plural(checked.errors(), "error"),
            plural(checked.warnings(), "warning")
        )),
    }
    out
}

fn json_report(checked: &Checked, source: &Source<'_>) -> serde_json::Value {
    serde_json::json!({
        "file": source.name,
        "valid": checked.plan.is_some(),
        "errors": checked.errors(),
        "warnings": checked.warnings(),
        "diagnostics": checked.diagnostics.iter().map(|d| d.to_json(source)).collect::<Vec<_>>(),
    })
}

/// The certificate files' own warnings: expiring within 30 days, unreadable,
/// or not covering a name their listener serves. Reading the files is I/O,
/// so this lives beside the command, not in the model.
fn certificate_diagnostics(plan: &Plan, base_dir: &std::path::Path) -> Vec<Diagnostic> {
    let t = &plan.topology;
    gatehouse_proxy::certificate_warnings(plan, base_dir)
        .into_iter()
        .map(|w| {
            let cert = w
                .certificate
                .as_ref()
                .and_then(|n| t.certificates.iter().find(|c| &c.name.value == n));
            let span = cert
                .map(|c| c.cert.as_ref().map_or(c.name.span.clone(), |f| f.span.clone()))
                .or_else(|| {
                    let l = w.listener.as_ref()?;
                    t.listeners
                        .iter()
                        .find(|x| &x.name.value == l)
                        .map(|x| x.name.span.clone())
                });
            let d = Diagnostic::warning("certificate", w.message);
            match span {
                Some(span) => d.at(span),
                None => d,
            }
        })
        .collect()
}
