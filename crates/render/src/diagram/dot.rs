//! Writes the scene as Graphviz DOT: the same boxes (clustered by column)
//! and the same coloured links, for people who lay graphs out their own way.

use std::fmt::Write;

use super::scene::{Col, Line, Scene};
use super::svg::colour;

pub(crate) fn write(scene: &Scene) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&scene.title));
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, newrank=true, nodesep=0.3, ranksep=0.9, fontname=\"DejaVu Sans\", \
         label={}, labelloc=t, fontsize=20];",
        quote(&scene.title)
    );
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"DejaVu Sans\", fontsize=11];\n",
    );
    out.push_str("  edge [penwidth=2, arrowsize=0.6];\n");
    for (k, col) in Col::ALL.iter().enumerate() {
        let members: Vec<usize> = (0..scene.nodes.len()).filter(|&i| scene.nodes[i].col == *col).collect();
        if members.is_empty() {
            continue;
        }
        let title = if *col == Col::Balancer {
            &scene.balancer.0
        } else {
            &scene.columns[k]
        };
        let _ = writeln!(out, "  subgraph cluster_{k} {{");
        let _ = writeln!(
            out,
            "    label={}; style=\"rounded,dashed\"; color=\"#5b6775\";",
            quote(title)
        );
        for i in members {
            let node = &scene.nodes[i];
            let mut label = node.title.clone();
            for line in &node.lines {
                let (Line::Body(t) | Line::Small(t)) = line;
                label.push('\n');
                label.push_str(t);
            }
            let _ = writeln!(out, "    {} [label={}];", quote(&node.id), quote(&label));
        }
        out.push_str("  }\n");
    }
    for l in &scene.links {
        let _ = writeln!(
            out,
            "  {} -> {} [color=\"{}\"{}];",
            quote(&scene.nodes[l.from].id),
            quote(&scene.nodes[l.to].id),
            colour(l.class),
            if l.between_tiers { ", style=dashed" } else { "" }
        );
    }
    // The legend as a table node.
    let mut rows = format!("<TR><TD COLSPAN=\"2\"><B>{}</B></TD></TR>", html(&scene.legend_title));
    for (class, text) in &scene.legend {
        let _ = write!(
            rows,
            "<TR><TD BGCOLOR=\"{}\" WIDTH=\"40\"> </TD><TD ALIGN=\"LEFT\">{}</TD></TR>",
            colour(*class),
            html(text)
        );
    }
    let _ = writeln!(
        out,
        "  legend [shape=plain, label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\">{rows}</TABLE>>];"
    );
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a DOT HTML-like label.
fn html(s: &str) -> String {
    crate::describe::doc::html_text(s)
}
