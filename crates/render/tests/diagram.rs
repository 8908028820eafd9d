//! The diagram of the Contoso topology as a document: well-formed,
//! accessible SVG, the legend's five colours with their ports, readable at
//! A3, deterministic, following the topology; valid Graphviz DOT; and the
//! generated files under docs/generated kept current.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use gatehouse_model::topology::TrafficClass;
use gatehouse_render::describe::{describe, DescribeFormat, Lang};
use gatehouse_render::diagram::{diagram_dot, diagram_svg, legend_colour};

use common::{contoso, plan_of, CONTOSO};

fn svg() -> String {
    diagram_svg(&contoso(), Lang::En)
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name).unwrap_or("")
}

#[test]
fn svg_is_well_formed_and_accessible_with_title_desc_roles_and_text_labels() {
    let text = svg();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("the SVG is not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    assert!(attr(root, "role").contains("graphics-document"));
    let title = root.children().find(|n| n.has_tag_name("title")).expect("a <title>");
    let desc = root.children().find(|n| n.has_tag_name("desc")).expect("a <desc>");
    assert_eq!(attr(root, "aria-labelledby"), attr(title, "id"));
    assert_eq!(attr(root, "aria-describedby"), attr(desc, "id"));
    assert!(title.text().unwrap_or("").contains("Contoso"));
    let summary = desc.text().unwrap_or("");
    assert!(
        summary.contains("4 user types") && summary.contains("8 ACL rules"),
        "{summary}"
    );
    let nodes: Vec<_> = doc.descendants().filter(|n| attr(*n, "class") == "node").collect();
    assert!(nodes.len() >= 15, "the boxes of the poster are drawn");
    for n in &nodes {
        assert!(
            attr(*n, "role").contains("graphics-object"),
            "{:?} has a role",
            attr(*n, "id")
        );
        assert!(!attr(*n, "aria-label").is_empty(), "{:?} has a label", attr(*n, "id"));
        assert!(
            n.children().any(|c| c.has_tag_name("text")),
            "{:?} has text",
            attr(*n, "id")
        );
    }
    // Labels are text, never outlines: every path is a traffic line.
    // Wrapped lines join back with spaces.
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    let words = labels.join(" ");
    for expected in [
        "Partner companies (B2B)",
        "Gateway router with ACLs",
        "Lync Edge server",
        "Exchange VIP",
        "Legend",
    ] {
        assert!(words.contains(expected), "no <text> reads {expected:?}");
    }
    for p in doc.descendants().filter(|n| n.has_tag_name("path")) {
        assert!(
            attr(p, "class").starts_with("link"),
            "a path that is not a line: {:?}",
            attr(p, "d")
        );
    }
}

#[test]
fn legend_box_shows_the_five_colours_with_their_ports() {
    let text = svg();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let legend = doc
        .descendants()
        .find(|n| attr(*n, "id") == "legend")
        .expect("a legend box");
    let swatches: Vec<(String, String)> = legend
        .descendants()
        .filter(|n| attr(*n, "class") == "swatch")
        .map(|n| (attr(n, "data-class").to_string(), attr(n, "fill").to_string()))
        .collect();
    let expected: Vec<(String, String)> = TrafficClass::ALL
        .iter()
        .map(|&(k, c)| (k.to_string(), legend_colour(c).to_string()))
        .collect();
    assert_eq!(swatches, expected);
    let colours: BTreeSet<&str> = TrafficClass::ALL.iter().map(|&(_, c)| legend_colour(c)).collect();
    assert_eq!(colours.len(), 5, "five distinct colours");
    // Green, blue, purple, orange and grey, in that order of the legend.
    let hue = |hex: &str| -> (u8, u8, u8) {
        let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        (v(1), v(3), v(5))
    };
    let [g, b, p, o, y] = [0, 1, 2, 3, 4].map(|i| hue(&swatches[i].1));
    assert!(g.1 > g.0 && g.1 > g.2, "Lync SIP is green");
    assert!(b.2 > b.0 && b.2 > b.1, "Lync web is blue");
    assert!(p.0 > p.1 && p.2 > p.1, "SharePoint is purple");
    assert!(o.0 > o.1 && o.1 > o.2, "Exchange client is orange");
    assert!(y.0 == y.1 && y.1 == y.2, "Exchange mail is grey");
    let words: String = legend
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for port in [
        "TCP 443, 5061, 5269, 50000-59999; UDP 3478",
        "4443, 8080",
        "TCP 110, 143, 443, 587, 993, 995",
        "TCP 25",
    ] {
        assert!(words.contains(port), "the legend lacks {port:?}:\n{words}");
    }
}

#[test]
fn traffic_lines_take_the_colour_of_their_class_and_every_class_is_drawn() {
    let text = svg();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut classes = BTreeSet::new();
    for p in doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && !attr(*n, "data-class").is_empty())
    {
        let (_, class) = TrafficClass::ALL
            .iter()
            .find(|(k, _)| *k == attr(p, "data-class"))
            .expect("a known class");
        assert_eq!(attr(p, "stroke"), legend_colour(*class));
        classes.insert(attr(p, "data-class"));
        // Orthogonal: every segment is horizontal or vertical.
        let pts: Vec<f64> = attr(p, "d")
            .replace(['M', 'L'], " ")
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        for w in pts.chunks(2).collect::<Vec<_>>().windows(2) {
            assert!(
                w[0][0] == w[1][0] || w[0][1] == w[1][1],
                "a diagonal segment in {:?}",
                attr(p, "d")
            );
        }
    }
    assert_eq!(classes.len(), 5, "lines of every class: {classes:?}");
}

#[test]
fn every_label_is_at_least_seven_points_when_printed_on_a3() {
    let text = svg();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    let (w, h): (f64, f64) = (
        attr(root, "width").parse().unwrap(),
        attr(root, "height").parse().unwrap(),
    );
    // A3 landscape is 420 by 297 mm; the drawing is scaled to fit it.
    let mm_per_px = (420.0 / w).min(297.0 / h);
    let style = doc
        .descendants()
        .find(|n| n.has_tag_name("style"))
        .and_then(|n| n.text())
        .unwrap();
    let sizes: Vec<f64> = style
        .split("font-size:")
        .skip(1)
        .map(|s| s.trim_start().split("px").next().unwrap().parse().unwrap())
        .collect();
    assert!(sizes.len() >= 5, "the style sheet sizes every kind of label");
    let smallest = sizes.iter().copied().fold(f64::MAX, f64::min);
    let points = smallest * mm_per_px / 25.4 * 72.0;
    assert!(points >= 7.0, "the smallest label prints at {points:.1} pt on A3");
    assert!(
        w / h < 2.0 && w / h > 1.0,
        "landscape, close to A3's proportions ({w} by {h})"
    );
}

#[test]
fn layout_is_deterministic() {
    assert_eq!(svg(), svg());
    assert_eq!(diagram_dot(&contoso(), Lang::Fr), diagram_dot(&contoso(), Lang::Fr));
}

#[test]
fn the_diagram_follows_the_topology() {
    let changed = CONTOSO
        .replace("\"203.0.113.25\"", "\"203.0.113.125\"")
        .replace("label = \"Internal employees\"", "label = \"Head-office staff\"");
    let after = diagram_svg(&plan_of(&changed), Lang::En);
    let before = svg();
    assert!(before.contains("203.0.113.25 TCP") && !after.contains("203.0.113.25 TCP"));
    assert!(after.contains("203.0.113.125 TCP 25"));
    assert!(after.contains("Head-office staff") && !before.contains("Head-office staff"));
    // Fewer user types, fewer boxes and lines.
    let start = CONTOSO.find("[user_types.partner-companies]").unwrap();
    let end = CONTOSO.find("[user_types.individual-partners-and-anonymous]").unwrap();
    let fewer = format!("{}{}", &CONTOSO[..start], &CONTOSO[end..]);
    let smaller = diagram_svg(&plan_of(&fewer), Lang::En);
    assert!(!smaller.contains("node-user-partner-companies") && before.contains("node-user-partner-companies"));
    assert!(smaller.matches("<path").count() < before.matches("<path").count());
}

#[test]
fn dot_output_is_valid_graphviz_with_the_same_boxes_and_colours() {
    let dot = diagram_dot(&contoso(), Lang::En);
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run Graphviz `dot` ({e}): install the Debian package `graphviz`"));
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "dot rejects the output: {stderr}"
    );
    let drawn = String::from_utf8(out.stdout).unwrap();
    for (_, class) in TrafficClass::ALL {
        assert!(
            drawn.contains(legend_colour(class)),
            "Graphviz draws {}",
            legend_colour(class)
        );
    }
    for id in [
        "gateway",
        "user-partner-companies",
        "vip-exchange",
        "exchange-front-end",
        "lync-edge",
    ] {
        assert!(dot.contains(&format!("\"{id}\" [label=")), "the DOT declares {id}");
    }
}

/// docs/generated is what scripts/render-docs writes; it must match the code.
#[test]
fn generated_docs_match_the_built_in_topology() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/generated");
    let plan = contoso();
    let mut expected = vec![("contoso.svg".to_string(), diagram_svg(&plan, Lang::En))];
    for lang in Lang::ALL {
        expected.push((
            format!("contoso.{lang}.md"),
            describe(&plan, lang, DescribeFormat::Markdown),
        ));
    }
    for (name, content) in expected {
        let path = docs.join(&name);
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == content,
            "docs/generated/{name} is out of date with the topology: run scripts/render-docs"
        );
    }
    let png = std::fs::read(docs.join("contoso.png")).expect("docs/generated/contoso.png: run scripts/render-docs");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "contoso.png is a PNG");
}
