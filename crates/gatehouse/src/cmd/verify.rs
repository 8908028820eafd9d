//! `gatehouse verify`: every user type's flows against what it declares,
//! and findings from the reference guidance, as text or JSON.
//!
//! Exit codes: 0 no errors (findings allowed), 1 errors or an invalid
//! topology, 2 unreadable.

use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse_model::Source;

use crate::cmd::check::text_report;
use crate::load::{load, Unreadable};

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also list every flow with where it goes or where it stops (text only;
    /// JSON always has them).
    #[arg(long)]
    pub flows: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn main(args: Args) -> ExitCode {
    let Args { file, format, flows } = args;
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
    let checked = gatehouse_model::check(&loaded.text);
    let source = Source::new(&loaded.name, &loaded.text);
    let Some(plan) = &checked.plan else {
        // Nothing to verify: say why, the way `check` does.
        match format {
            Format::Text => print!("{}", text_report(&checked, &source, false)),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "file": source.name,
                    "valid": false,
                    "diagnostics": checked.diagnostics.iter().map(|d| d.to_json(&source)).collect::<Vec<_>>(),
                }))
                .expect("JSON of plain values")
            ),
        }
        return ExitCode::from(1);
    };
    let report = gatehouse_verify::verify(plan);
    match format {
        Format::Text => {
            print!("{}", report.to_text_in(&source));
            if flows {
                println!("\nflows");
                print!("{}", report.flow_table());
            }
        }
        Format::Json => {
            let mut json = report.to_json_in(&source);
            json["valid"] = serde_json::Value::Bool(true);
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON of plain values"));
        }
    }
    if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
