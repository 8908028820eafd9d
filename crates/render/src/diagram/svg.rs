//! Writes the laid-out scene as an accessible SVG document: a `<title>` and
//! `<desc>`, ARIA graphics roles on the document, boxes and links, every
//! label as `<text>` (never paths), and a legend box with the five colours.

use std::fmt::Write;

use gatehouse_model::topology::TrafficClass;

use super::layout::{Layout, Style, Text};
use super::route::Path;
use super::scene::Scene;
use crate::describe::doc::html_text as esc;

/// The legend's colour for a traffic class, as drawn.
pub fn colour(class: TrafficClass) -> &'static str {
    match class {
        TrafficClass::LyncSip => "#2b9348",
        TrafficClass::LyncWeb => "#1f6fd1",
        TrafficClass::SharePoint => "#7b3fa0",
        TrafficClass::ExchangeClient => "#e07b00",
        TrafficClass::ExchangeMail => "#7a7a7a",
    }
}

/// The style sheet; font sizes come from the layout, which measured with them.
fn style() -> String {
    format!(
        "
text {{ fill: #1d2733; }}
.title {{ font-size: {}px; font-weight: bold; }}
.subtitle {{ font-size: {}px; fill: #4a5563; }}
.head {{ font-size: {}px; font-weight: bold; fill: #4a5563; }}
.box-title {{ font-size: {}px; font-weight: bold; }}
.body {{ font-size: {}px; }}
.small {{ font-size: {}px; fill: #3d4753; }}
{REST}",
        Style::Title.size(),
        Style::Subtitle.size(),
        Style::Head.size(),
        Style::BoxTitle.size(),
        Style::Body.size(),
        Style::Small.size(),
    )
}

const REST: &str = ".box { fill: #ffffff; stroke: #5b6775; stroke-width: 1.5; }
.frame { fill: #eef3f8; stroke: #5b6775; stroke-width: 1.5; stroke-dasharray: 6 4; }
.legend { fill: #ffffff; stroke: #1d2733; stroke-width: 1.5; }
.link { fill: none; stroke-width: 2.5; stroke-linejoin: round; stroke-linecap: round; }
.tiers { stroke-dasharray: 7 5; }
";

pub(crate) fn write(scene: &Scene, layout: &Layout, paths: &[Path], lang: &str) -> String {
    let (w, h) = (layout.width, layout.height);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         role=\"graphics-document document\" aria-labelledby=\"diagram-title\" aria-describedby=\"diagram-desc\" \
         xml:lang=\"{lang}\" lang=\"{lang}\" font-family=\"'DejaVu Sans', Verdana, Arial, sans-serif\">\n\
         <title id=\"diagram-title\">{}</title>\n<desc id=\"diagram-desc\">{}</desc>\n<style>{}</style>\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\" role=\"presentation\"/>\n",
        esc(&scene.title),
        esc(&scene.desc),
        style(),
    );
    out.push_str("<g id=\"header\" role=\"group\">\n");
    for t in &layout.header {
        text(&mut out, t);
    }
    out.push_str("</g>\n");
    if let Some((r, texts)) = &layout.balancer {
        let _ = writeln!(
            out,
            "<g id=\"balancer\" role=\"graphics-object group\" aria-label=\"{}\">\n\
             <rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\"/>",
            esc(&scene.balancer.0),
            r.x,
            r.y,
            r.w,
            r.h
        );
        for t in texts {
            text(&mut out, t);
        }
        out.push_str("</g>\n");
    }
    for (i, node) in scene.nodes.iter().enumerate() {
        let r = layout.boxes[i];
        let label: Vec<&str> = std::iter::once(node.title.as_str())
            .chain(node.lines.iter().map(|l| match l {
                super::scene::Line::Body(s) | super::scene::Line::Small(s) => s.as_str(),
            }))
            .collect();
        let _ = writeln!(
            out,
            "<g id=\"node-{}\" class=\"node\" role=\"graphics-object group\" aria-label=\"{}\">\n\
             <rect class=\"box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>",
            node.id,
            esc(&label.join("; ")),
            r.x,
            r.y,
            r.w,
            r.h
        );
        for t in &layout.texts[i] {
            text(&mut out, t);
        }
        out.push_str("</g>\n");
    }
    out.push_str("<g id=\"links\" role=\"group\">\n");
    for (l, p) in scene.links.iter().zip(paths) {
        let d: Vec<String> = p.iter().map(|(x, y)| format!("{x} {y}")).collect();
        let _ = writeln!(
            out,
            "<path class=\"link{}\" data-class=\"{}\" stroke=\"{}\" d=\"M{}\" role=\"graphics-symbol img\" \
             aria-label=\"{}: {} → {}\"/>",
            if l.between_tiers { " tiers" } else { "" },
            l.class.keyword(),
            colour(l.class),
            d.join(" L"),
            esc(&legend_name(scene, l.class)),
            esc(&scene.nodes[l.from].title),
            esc(&scene.nodes[l.to].title),
        );
    }
    out.push_str("</g>\n");
    legend(&mut out, scene, layout);
    out.push_str("</svg>\n");
    out
}

fn legend_name(scene: &Scene, class: TrafficClass) -> String {
    scene.legend.iter().find(|(c, _)| *c == class).map_or_else(
        || class.keyword().to_string(),
        |(_, t)| t.split(':').next().unwrap_or("").to_string(),
    )
}

fn legend(out: &mut String, scene: &Scene, layout: &Layout) {
    let r = layout.legend;
    let _ = writeln!(
        out,
        "<g id=\"legend\" role=\"graphics-object group\" aria-label=\"{}\">\n\
         <rect class=\"legend\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>",
        esc(&scene.legend_title),
        r.x,
        r.y,
        r.w,
        r.h
    );
    for t in &layout.legend_texts {
        text(out, t);
    }
    let x = layout.legend_swatch_x;
    for (k, y) in layout.legend_rows.iter().enumerate() {
        match scene.legend.get(k) {
            Some((class, _)) => {
                let c = colour(*class);
                let _ = writeln!(
                    out,
                    "<rect class=\"swatch\" data-class=\"{}\" x=\"{x}\" y=\"{}\" width=\"44\" height=\"10\" \
                     fill=\"{c}\" role=\"presentation\"/>",
                    class.keyword(),
                    y - 5.0
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "<path class=\"link tiers\" stroke=\"#5b6775\" d=\"M{x} {y} L{} {y}\" role=\"presentation\"/>",
                    x + 44.0
                );
            }
        }
    }
    out.push_str("</g>\n");
}

fn text(out: &mut String, t: &Text) {
    let class = match t.style {
        Style::Title => "title",
        Style::Subtitle => "subtitle",
        Style::Head => "head",
        Style::BoxTitle => "box-title",
        Style::Body => "body",
        Style::Small => "small",
    };
    let anchor = if t.centred { " text-anchor=\"middle\"" } else { "" };
    let _ = writeln!(
        out,
        "<text class=\"{class}\" x=\"{}\" y=\"{}\"{anchor}>{}</text>",
        t.x,
        (t.baseline * 10.0).round() / 10.0,
        esc(&t.text)
    );
}
