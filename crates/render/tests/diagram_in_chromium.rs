//! The Contoso diagram rendered in headless Chromium, as people see it.
//!
//! Two browser launches: one loads a page with the English, Spanish and
//! French SVGs inline and measures every label in the browser (no two
//! labels' boxes overlap, every label stays inside its box, no traffic line
//! runs over a label), the other screenshots the English SVG to PNG, whose
//! pixels must show the five legend colours.

mod common;

use std::path::PathBuf;

use gatehouse_model::topology::TrafficClass;
use gatehouse_render::describe::Lang;
use gatehouse_render::diagram::{diagram_svg, legend_colour};

use common::{chromium, contoso};

fn work_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram-in-chromium");
    std::fs::create_dir_all(&dir).expect("create the work directory");
    dir
}

/// Runs in the page: measures the labels of each SVG and writes one line per
/// finding into <pre id="result">, ending with DONE.
const MEASURE: &str = r#"
const out = [];
const inside = (outer, r) => r.left >= outer.left - 0.5 && r.right <= outer.right + 0.5
  && r.top >= outer.top - 0.5 && r.bottom <= outer.bottom + 0.5;
const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
  && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
const label = t => JSON.stringify(t.textContent);
for (const svg of document.querySelectorAll('svg')) {
  const lang = svg.getAttribute('lang');
  const texts = [...svg.querySelectorAll('text')];
  const boxes = texts.map(t => t.getBoundingClientRect());
  out.push(`TEXTS ${lang} ${texts.length}`);
  for (let i = 0; i < texts.length; i++) {
    if (boxes[i].width < 1) out.push(`EMPTY ${lang} ${label(texts[i])}`);
    for (let j = i + 1; j < texts.length; j++) {
      if (meet(boxes[i], boxes[j])) out.push(`OVERLAP ${lang} ${label(texts[i])} ${label(texts[j])}`);
    }
  }
  for (const g of svg.querySelectorAll('g.node, #legend, #balancer')) {
    const frame = g.querySelector('rect').getBoundingClientRect();
    for (const t of g.querySelectorAll(':scope > text')) {
      if (!inside(frame, t.getBoundingClientRect())) out.push(`OUTSIDE ${lang} ${label(t)}`);
    }
  }
  const m = svg.getScreenCTM();
  for (const path of svg.querySelectorAll('#links path')) {
    const pts = path.getAttribute('d').replace(/[ML]/g, ' ').trim().split(/\s+/).map(Number);
    for (let k = 0; k + 3 < pts.length; k += 2) {
      const x1 = m.a * pts[k] + m.e, y1 = m.d * pts[k + 1] + m.f;
      const x2 = m.a * pts[k + 2] + m.e, y2 = m.d * pts[k + 3] + m.f;
      const seg = { left: Math.min(x1, x2) - 1, right: Math.max(x1, x2) + 1, top: Math.min(y1, y2) - 1, bottom: Math.max(y1, y2) + 1 };
      texts.forEach((t, i) => { if (meet(seg, boxes[i])) out.push(`CROSS ${lang} ${path.getAttribute('aria-label')} ${label(t)}`); });
    }
  }
}
out.push('DONE');
document.getElementById('result').textContent = out.join('\n');
"#;

/// Two overlapping labels, one sticking out of its box, and a line over a label.
const CANARY: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="120" lang="canary">
<g class="node"><rect x="10" y="10" width="90" height="60"/>
<text x="20" y="40" font-size="14">first label</text><text x="30" y="45" font-size="14">second label</text></g>
<g id="links"><path aria-label="line" d="M0 36 L200 36"/></g></svg>
"#;

#[test]
fn contoso_labels_never_overlap_when_chromium_renders_the_diagram_in_each_language() {
    let plan = contoso();
    let mut page = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{margin:0} svg{display:block}</style></head><body>\n");
    for lang in Lang::ALL {
        page.push_str(&diagram_svg(&plan, lang));
    }
    // A canary the script must catch, so that a broken measurement cannot pass.
    page.push_str(CANARY);
    page.push_str("<pre id=\"result\">NOT RUN</pre>\n<script>");
    page.push_str(MEASURE);
    page.push_str("</script></body></html>\n");
    let dir = work_dir();
    let html = dir.join("measure.html");
    std::fs::write(&html, page).unwrap();
    let dom = chromium::run(&dir, "measure", &["--dump-dom".into(), chromium::url(&html)]);
    let result = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .expect("the page has its result element");
    let lines: Vec<&str> = result.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"DONE"),
        "the measuring script ran to the end: {result}"
    );
    for lang in Lang::ALL {
        let count: usize = lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("TEXTS {lang} ")))
            .unwrap_or_else(|| panic!("no SVG measured for {lang}"))
            .parse()
            .unwrap();
        assert!(count > 150, "{lang}: only {count} labels measured");
    }
    for expected in [
        "OVERLAP canary \"first label\" \"second label\"",
        "OUTSIDE canary \"second label\"",
        "CROSS canary line \"first label\"",
    ] {
        assert!(
            lines.contains(&expected),
            "the measurement misses the canary's {expected:?}: {result}"
        );
    }
    let problems: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.starts_with("TEXTS ") && **l != "DONE" && !l.contains(" canary "))
        .collect();
    assert!(
        problems.is_empty(),
        "{} layout problems:\n{problems:#?}",
        problems.len()
    );
}

#[test]
fn contoso_diagram_renders_to_a_png_with_the_five_legend_colours() {
    let svg = diagram_svg(&contoso(), Lang::En);
    let size = |attr: &str| -> u32 {
        let at = svg.find(&format!(" {attr}=\"")).expect("the root has a size") + attr.len() + 3;
        svg[at..].split('"').next().unwrap().parse().expect("an integer size")
    };
    let (w, h) = (size("width"), size("height"));
    let dir = work_dir();
    let file = dir.join("contoso.svg");
    std::fs::write(&file, &svg).unwrap();
    let png_path = dir.join("contoso.png");
    let _ = std::fs::remove_file(&png_path);
    chromium::run(
        &dir,
        "screenshot",
        &[
            format!("--screenshot={}", png_path.display()),
            format!("--window-size={w},{h}"),
            chromium::url(&file),
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sized PNG")];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(
        (info.width, info.height),
        (w, h),
        "the screenshot has the diagram's size"
    );
    let channels = info.color_type.samples();
    let count = |hex: &str| -> usize {
        let rgb: Vec<u8> = (1..7)
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        pixels[..info.buffer_size()]
            .chunks(channels)
            .filter(|p| p[..3] == rgb[..])
            .count()
    };
    for (name, class) in TrafficClass::ALL {
        let n = count(legend_colour(class));
        // The legend swatch alone is 44 by 10 pixels.
        assert!(n >= 400, "{name} ({}) has {n} pixels in the PNG", legend_colour(class));
    }
    let white = count("#ffffff");
    assert!(white > (w * h / 3) as usize, "the background is white");
}
