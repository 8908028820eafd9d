//! Where everything goes: a deterministic column-and-band layout.
//!
//! Columns run left to right as on the poster. On the right, each product
//! has a horizontal band that holds its VIP and its server groups by tier,
//! so a product's traffic runs straight across. On the left, the user types
//! stack beside the gateway router, internal user types below it (their
//! traffic does not cross the gateway), and the remote-access servers sit
//! level with what they connect to. Every text line gets its own box row,
//! sized with the font metrics, so no two labels can overlap.

use super::metrics::{width, wrap};
use super::scene::{Col, Line, Scene};

pub(crate) const MARGIN: f64 = 32.0;
pub(crate) const TITLE_SIZE: f64 = 28.0;
pub(crate) const SUBTITLE_SIZE: f64 = 15.0;
pub(crate) const HEAD_SIZE: f64 = 15.0;
pub(crate) const BOX_TITLE_SIZE: f64 = 15.0;
pub(crate) const BODY_SIZE: f64 = 14.0;
pub(crate) const SMALL_SIZE: f64 = 13.0;
const PAD: f64 = 10.0;
const STACK_GAP: f64 = 18.0;
const BAND_GAP: f64 = 28.0;
/// DejaVu Sans's ascent and ascent + descent, in ems: where a line's glyph
/// box sits around its baseline.
const ASCENT: f64 = 0.93;
const EXTENT: f64 = 1.17;

/// Column widths, in the order of [`Col::ALL`].
const WIDTHS: [f64; 7] = [204.0, 236.0, 204.0, 262.0, 216.0, 204.0, 204.0];

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    pub fn centre_y(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// How a text line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Title,
    Subtitle,
    Head,
    BoxTitle,
    Body,
    Small,
}

impl Style {
    pub fn size(self) -> f64 {
        match self {
            Style::Title => TITLE_SIZE,
            Style::Subtitle => SUBTITLE_SIZE,
            Style::Head => HEAD_SIZE,
            Style::BoxTitle => BOX_TITLE_SIZE,
            Style::Body => BODY_SIZE,
            Style::Small => SMALL_SIZE,
        }
    }

    pub fn bold(self) -> bool {
        matches!(self, Style::Title | Style::Head | Style::BoxTitle)
    }

    /// The distance between baselines.
    fn step(self) -> f64 {
        (self.size() * 1.36).round()
    }
}

/// One line of text, placed: `x` is its start (or centre when `centred`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Text {
    pub x: f64,
    pub baseline: f64,
    pub style: Style,
    pub centred: bool,
    pub text: String,
}

/// Lines of text stacked from `top`, each wrapped to `max`.
struct Stack {
    texts: Vec<Text>,
    cursor: f64,
}

impl Stack {
    fn new(top: f64) -> Stack {
        Stack {
            texts: Vec::new(),
            cursor: top,
        }
    }

    fn push(&mut self, x: f64, max: f64, style: Style, centred: bool, text: &str) {
        for line in wrap(text, style.size(), style.bold(), max) {
            let size = style.size();
            let baseline = self.cursor + (style.step() - EXTENT * size) / 2.0 + ASCENT * size;
            self.texts.push(Text {
                x,
                baseline,
                style,
                centred,
                text: line,
            });
            self.cursor += style.step();
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub width: f64,
    pub height: f64,
    pub header: Vec<Text>,
    /// One rectangle and its text per scene node, same indices.
    pub boxes: Vec<Rect>,
    pub texts: Vec<Vec<Text>>,
    /// The load balancer's frame around the VIPs, with its title.
    pub balancer: Option<(Rect, Vec<Text>)>,
    pub legend: Rect,
    pub legend_texts: Vec<Text>,
    /// (row centre y, class index in the scene legend) of each swatch; the
    /// last entry is the dashed sample.
    pub legend_rows: Vec<f64>,
    pub legend_swatch_x: f64,
    pub columns: Vec<(f64, f64)>,
    /// Top of the content area: nothing is routed above it.
    pub top: f64,
}

/// Lays out a box's title and lines at (x, y) with width w; returns its texts and height.
fn box_texts(scene_title: &str, lines: &[Line], x: f64, y: f64, w: f64) -> (Vec<Text>, f64) {
    let mut stack = Stack::new(y + PAD);
    let inner = w - 2.0 * PAD;
    stack.push(x + PAD, inner, Style::BoxTitle, false, scene_title);
    stack.cursor += 2.0;
    for line in lines {
        match line {
            Line::Body(t) => stack.push(x + PAD, inner, Style::Body, false, t),
            Line::Small(t) => stack.push(x + PAD, inner, Style::Small, false, t),
        }
    }
    let h = stack.cursor + PAD - y;
    (stack.texts, h)
}

/// The gaps between columns, from how many vertical runs each must hold.
pub(crate) fn gaps(runs: &[usize]) -> Vec<f64> {
    runs.iter()
        .map(|&n| (22.0 + 6.0 * n as f64).clamp(44.0, 110.0))
        .collect()
}

/// Lays the scene out with the given gaps between columns.
pub(crate) fn layout(scene: &Scene, gaps: &[f64]) -> Layout {
    let mut out = Layout::default();
    let mut x = MARGIN;
    for col in Col::ALL {
        let w = WIDTHS[col.index()];
        out.columns.push((x, w));
        x += w + gaps.get(col.index()).copied().unwrap_or(0.0);
    }
    let content_right = out.columns[6].0 + out.columns[6].1;

    // Title, subtitle and column heads.
    let mut head = Stack::new(MARGIN - 6.0);
    head.push(MARGIN, content_right - MARGIN, Style::Title, false, &scene.title);
    head.push(MARGIN, content_right - MARGIN, Style::Subtitle, false, &scene.subtitle);
    out.header = head.texts;
    let heads_top = head.cursor + 14.0;
    let mut top = heads_top;
    for (i, name) in scene.columns.iter().enumerate() {
        let (cx, w) = out.columns[i];
        let mut s = Stack::new(heads_top);
        s.push(cx + w / 2.0, w, Style::Head, true, name);
        top = top.max(s.cursor);
        out.header.extend(s.texts);
    }
    let top = top + 14.0;
    out.top = top;

    // Every box's text and height, before placing.
    out.boxes = vec![Rect::default(); scene.nodes.len()];
    out.texts = vec![Vec::new(); scene.nodes.len()];
    let inner_vip = WIDTHS[Col::Balancer.index()] - 28.0;
    for (i, node) in scene.nodes.iter().enumerate() {
        let (x, w) = out.columns[node.col.index()];
        let (x, w) = if node.col == Col::Balancer {
            (x + 14.0, inner_vip)
        } else {
            (x, w)
        };
        let (_, h) = box_texts(&node.title, &node.lines, x, 0.0, w);
        out.boxes[i] = Rect { x, y: 0.0, w, h };
    }

    // The load balancer's frame and the product bands on the right.
    let (bx, bw) = out.columns[Col::Balancer.index()];
    let mut frame = Stack::new(top + PAD);
    frame.push(bx + bw / 2.0, bw - 2.0 * PAD, Style::BoxTitle, true, &scene.balancer.0);
    frame.push(bx + bw / 2.0, bw - 2.0 * PAD, Style::Small, true, &scene.balancer.1);
    let mut band_top = frame.cursor + 12.0;
    let mut products: Vec<_> = scene.nodes.iter().filter_map(|n| n.product).collect();
    products.sort();
    products.dedup();
    let right = [Col::Balancer, Col::FrontEnd, Col::Application, Col::Database];
    for p in products {
        let members = |c: Col| -> Vec<usize> {
            (0..scene.nodes.len())
                .filter(|&i| scene.nodes[i].col == c && scene.nodes[i].product == Some(p))
                .collect()
        };
        let stack_h = |ids: &[usize], boxes: &[Rect]| -> f64 {
            ids.iter().map(|&i| boxes[i].h).sum::<f64>() + STACK_GAP * ids.len().saturating_sub(1) as f64
        };
        let band_h = right
            .iter()
            .map(|&c| stack_h(&members(c), &out.boxes))
            .fold(0.0, f64::max);
        if band_h == 0.0 {
            continue;
        }
        for c in right {
            let ids = members(c);
            let mut y = band_top + (band_h - stack_h(&ids, &out.boxes)) / 2.0;
            for i in ids {
                out.boxes[i].y = y;
                y += out.boxes[i].h + STACK_GAP;
            }
        }
        band_top += band_h + BAND_GAP;
    }
    // Boxes of the balancer column outside any band (split DNS) go below.
    let mut y = band_top - BAND_GAP + STACK_GAP;
    for i in 0..scene.nodes.len() {
        if scene.nodes[i].col == Col::Balancer && scene.nodes[i].product.is_none() {
            out.boxes[i].y = y;
            y += out.boxes[i].h + STACK_GAP;
        }
    }
    let frame_rect = Rect {
        x: bx,
        y: top,
        w: bw,
        h: y - STACK_GAP + 14.0 - top,
    };
    out.balancer = Some((frame_rect, frame.texts));

    // Remote access: level with what each box connects to.
    let remote: Vec<usize> = (0..scene.nodes.len())
        .filter(|&i| scene.nodes[i].col == Col::Remote)
        .collect();
    let desired = |i: usize, boxes: &[Rect]| -> f64 {
        let others: Vec<f64> = scene
            .links
            .iter()
            .filter(|l| l.from == i && scene.nodes[l.to].col > Col::Remote)
            .map(|l| boxes[l.to].centre_y())
            .collect();
        if others.is_empty() {
            top
        } else {
            others.iter().sum::<f64>() / others.len() as f64 - boxes[i].h / 2.0
        }
    };
    let mut order: Vec<(f64, usize)> = remote.iter().map(|&i| (desired(i, &out.boxes), i)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut next = top;
    for (want, i) in order {
        let y = want.max(next);
        out.boxes[i].y = y;
        next = y + out.boxes[i].h + STACK_GAP;
    }
    let remote_bottom = next - STACK_GAP;

    // The gateway and the sources outside it, side by side; internal user types below both.
    let gateway = scene.node("gateway");
    let sources: Vec<usize> = (0..scene.nodes.len())
        .filter(|&i| {
            scene.nodes[i].col == Col::Users && scene.links.iter().any(|l| l.from == i && Some(l.to) == gateway)
        })
        .collect();
    let inside: Vec<usize> = (0..scene.nodes.len())
        .filter(|&i| scene.nodes[i].col == Col::Users && !sources.contains(&i))
        .collect();
    let sources_h: f64 = sources.iter().map(|&i| out.boxes[i].h).sum();
    let gateway_h = gateway.map_or(0.0, |g| out.boxes[g].h);
    let span = gateway_h.max(sources_h + STACK_GAP * sources.len().saturating_sub(1) as f64);
    if let Some(g) = gateway {
        out.boxes[g].y = top;
        out.boxes[g].h = span;
    }
    let gap = if sources.len() > 1 {
        (span - sources_h) / (sources.len() - 1) as f64
    } else {
        0.0
    };
    let mut y = if sources.len() == 1 {
        top + (span - sources_h) / 2.0
    } else {
        top
    };
    for &i in &sources {
        out.boxes[i].y = y;
        y += out.boxes[i].h + gap;
    }
    let mut y = (top + span).max(remote_bottom) + 40.0;
    for &i in &inside {
        out.boxes[i].y = y;
        y += out.boxes[i].h + STACK_GAP;
    }
    let left_bottom = y - STACK_GAP;

    // Every box's text, now that it has its place.
    for (i, node) in scene.nodes.iter().enumerate() {
        let r = out.boxes[i];
        out.texts[i] = box_texts(&node.title, &node.lines, r.x, r.y, r.w).0;
    }

    // The legend: below the left-hand columns when they leave room, else below everything.
    let right_bottom = frame_rect.bottom().max(
        (0..scene.nodes.len())
            .filter(|&i| scene.nodes[i].col > Col::Balancer)
            .map(|i| out.boxes[i].bottom())
            .fold(0.0, f64::max),
    );
    let swatch = 44.0;
    let legend_w = (out.columns[2].0 + out.columns[2].1 - MARGIN).min(
        scene
            .legend
            .iter()
            .map(|(_, t)| width(t, BODY_SIZE, false))
            .chain([width(&scene.legend_dashed, BODY_SIZE, false)])
            .fold(0.0, f64::max)
            + swatch
            + 3.0 * PAD,
    );
    let legend_w = legend_w.max(width(&scene.legend_title, BOX_TITLE_SIZE, true) + 2.0 * PAD);
    let mut legend = Stack::new(0.0);
    let text_x = MARGIN + PAD + swatch + PAD;
    legend.push(
        MARGIN + PAD,
        legend_w - 2.0 * PAD,
        Style::BoxTitle,
        false,
        &scene.legend_title,
    );
    legend.cursor += 4.0;
    let mut rows = Vec::new();
    for text in scene
        .legend
        .iter()
        .map(|(_, t)| t.as_str())
        .chain([scene.legend_dashed.as_str()])
    {
        let start = legend.cursor;
        legend.push(text_x, legend_w - (text_x - MARGIN) - PAD, Style::Body, false, text);
        rows.push(start + Style::Body.step() / 2.0);
    }
    let legend_h = legend.cursor + 2.0 * PAD;
    let below_left = left_bottom + 36.0;
    let legend_y = if below_left + legend_h <= right_bottom {
        below_left
    } else {
        right_bottom.max(left_bottom) + 36.0
    };
    for t in &mut legend.texts {
        t.baseline += legend_y + PAD;
    }
    out.legend_rows = rows.iter().map(|r| r + legend_y + PAD).collect();
    out.legend_texts = legend.texts;
    out.legend = Rect {
        x: MARGIN,
        y: legend_y,
        w: legend_w,
        h: legend_h,
    };
    out.legend_swatch_x = MARGIN + PAD;
    out.width = (content_right + MARGIN).ceil();
    out.height = (out.legend.bottom().max(right_bottom).max(left_bottom) + MARGIN).ceil();
    out
}
