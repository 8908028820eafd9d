//! `gatehouse describe`: the accessible text version of the diagram, in
//! English, Spanish or French, as Markdown or HTML, on standard output.

use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse_render::describe::{describe, DescribeFormat, Lang};

use crate::load::load_plan;

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
    /// Language of the text.
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub lang: LangArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Md)]
    pub format: FormatArg,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    /// English.
    En,
    /// Spanish (español).
    Es,
    /// French (français).
    Fr,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::En => Lang::En,
            LangArg::Es => Lang::Es,
            LangArg::Fr => Lang::Fr,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Markdown.
    Md,
    /// A self-contained HTML page.
    Html,
}

pub fn main(args: Args) -> ExitCode {
    super::print_or_fail(run(&args))
}

/// The description, or the exit code and what to print on standard error:
/// 2 when the file cannot be read, 1 when the topology is invalid.
fn run(args: &Args) -> Result<String, (u8, String)> {
    let lang: Lang = args.lang.into();
    let format = match args.format {
        FormatArg::Md => DescribeFormat::Markdown,
        FormatArg::Html => DescribeFormat::Html,
    };
    let plan = load_plan(args.file.as_deref())?;
    Ok(describe(&plan, lang, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(file: Option<&str>, lang: LangArg, format: FormatArg) -> Args {
        Args {
            file: file.map(PathBuf::from),
            lang,
            format,
        }
    }

    #[test]
    fn describes_the_built_in_topology_in_the_chosen_language_and_format() {
        let es = run(&args(None, LangArg::Es, FormatArg::Md)).unwrap();
        assert!(es.starts_with("# Diagrama accesible"), "{}", &es[..80]);
        let fr = run(&args(None, LangArg::Fr, FormatArg::Html)).unwrap();
        assert!(fr.starts_with("<!DOCTYPE html>\n<html lang=\"fr\">"));
    }

    #[test]
    fn an_unreadable_file_exits_2_and_an_invalid_one_exits_1() {
        let (code, message) = run(&args(Some("/nonexistent/topology.toml"), LangArg::En, FormatArg::Md)).unwrap_err();
        assert_eq!(code, 2);
        assert!(message.contains("cannot read /nonexistent/topology.toml"));
        let dir = std::env::temp_dir().join(format!("gatehouse-describe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[gatehouse]\nname = 1\n").unwrap();
        let (code, message) = run(&args(bad.to_str(), LangArg::En, FormatArg::Md)).unwrap_err();
        assert_eq!(code, 1);
        assert!(message.contains("invalid"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
