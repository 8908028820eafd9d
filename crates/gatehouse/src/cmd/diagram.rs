//! `gatehouse diagram`: the network drawn from the topology, as accessible
//! SVG (the default) or Graphviz DOT, on standard output.

use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse_render::describe::Lang;
use gatehouse_render::diagram::{diagram_dot, diagram_svg};

use super::describe::LangArg;
use crate::load::load_plan;

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Svg)]
    pub format: Format,
    /// Language of the labels.
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub lang: LangArg,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Accessible SVG, laid out by gatehouse.
    Svg,
    /// Graphviz DOT, for `dot -Tsvg` or other layouts.
    Dot,
}

pub fn main(args: Args) -> ExitCode {
    super::print_or_fail(run(&args))
}

fn run(args: &Args) -> Result<String, (u8, String)> {
    let plan = load_plan(args.file.as_deref())?;
    let lang: Lang = args.lang.into();
    Ok(match args.format {
        Format::Svg => diagram_svg(&plan, lang),
        Format::Dot => diagram_dot(&plan, lang),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_built_in_topology_as_svg_or_dot() {
        let args = |format| Args {
            file: None,
            format,
            lang: LangArg::Es,
        };
        let svg = run(&args(Format::Svg)).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("lang=\"es\"") && svg.contains("Enrutador de puerta de enlace"));
        let dot = run(&args(Format::Dot)).unwrap();
        assert!(dot.starts_with("digraph "));
    }

    #[test]
    fn an_unreadable_file_exits_2() {
        let args = Args {
            file: Some("/nonexistent/topology.toml".into()),
            format: Format::Svg,
            lang: LangArg::En,
        };
        let (code, message) = run(&args).unwrap_err();
        assert_eq!(code, 2);
        assert!(message.starts_with("error: cannot read"));
    }
}
