//! Orthogonal routing of the traffic links between the boxes.
//!
//! A link leaves the right side of its box, turns only in the gaps between
//! columns, and enters the left side of its target. Each link gets its own
//! attachment point on each box side (ordered by where the other end is, so
//! neighbours do not cross) and its own vertical channel in each gap. A link
//! that skips columns crosses them through a free corridor: a height where
//! no box, frame or legend is, and no other link runs. So lines never run
//! over text, and never run on top of one another.

use super::layout::{Layout, Rect};
use super::scene::Scene;

/// A link's points, from its source box to its target box.
pub(crate) type Path = Vec<(f64, f64)>;

/// Minimum distance between two parallel horizontal runs.
const SPACING: f64 = 6.0;
/// Clearance kept around boxes for corridors.
const CLEARANCE: f64 = 8.0;

/// A vertical move of one link inside one gap.
struct Jog {
    link: usize,
    gap: usize,
    from: f64,
    to: f64,
}

pub(crate) fn route(scene: &Scene, layout: &Layout) -> Vec<Path> {
    let n = scene.links.len();
    let (out_y, in_y) = attachments(scene, layout);
    let gap_span = |g: usize| {
        let (x, w) = layout.columns[g];
        (x + w, layout.columns[g + 1].0)
    };
    // Horizontal runs already taken: (x from, x to, y, link).
    let mut taken: Vec<(f64, f64, f64, usize)> = Vec::new();
    for (i, l) in scene.links.iter().enumerate() {
        let (a, b) = (scene.nodes[l.from].col.index(), scene.nodes[l.to].col.index());
        taken.push((gap_span(a).0, gap_span(a).1, out_y[i], i));
        taken.push((gap_span(b - 1).0, gap_span(b - 1).1, in_y[i], i));
    }
    let mut pass: Vec<Option<f64>> = vec![None; n];
    for (i, l) in scene.links.iter().enumerate() {
        let (a, b) = (scene.nodes[l.from].col.index(), scene.nodes[l.to].col.index());
        if b > a + 1 {
            let (x1, x2) = (gap_span(a).0, gap_span(b - 1).1);
            let others: Vec<(f64, f64, f64)> = taken
                .iter()
                .filter(|t| t.3 != i)
                .map(|&(p, q, y, _)| (p, q, y))
                .collect();
            let ends = [(gap_span(a), out_y[i]), (gap_span(b - 1), in_y[i])];
            let y = corridor(scene, layout, a + 1..b, (x1, x2), ends, &others);
            taken.push((x1, x2, y, i));
            pass[i] = Some(y);
        }
    }
    let mut jogs = Vec::new();
    for (i, l) in scene.links.iter().enumerate() {
        let (a, b) = (scene.nodes[l.from].col.index(), scene.nodes[l.to].col.index());
        match pass[i] {
            None => jogs.push(Jog {
                link: i,
                gap: a,
                from: out_y[i],
                to: in_y[i],
            }),
            Some(y) => {
                jogs.push(Jog {
                    link: i,
                    gap: a,
                    from: out_y[i],
                    to: y,
                });
                jogs.push(Jog {
                    link: i,
                    gap: b - 1,
                    from: y,
                    to: in_y[i],
                });
            }
        }
    }
    // Channels: within a gap, downward jogs from the lowest start leftwards,
    // then upward jogs from the highest start, which keeps them from crossing.
    let mut channel: Vec<Vec<f64>> = vec![Vec::new(); n];
    for g in 0..layout.columns.len() - 1 {
        let mut here: Vec<&Jog> = jogs.iter().filter(|j| j.gap == g).collect();
        here.sort_by(|p, q| {
            let down = |j: &Jog| j.to >= j.from;
            match (down(p), down(q)) {
                (true, true) => q.from.total_cmp(&p.from).then(q.to.total_cmp(&p.to)),
                (false, false) => p.from.total_cmp(&q.from).then(p.to.total_cmp(&q.to)),
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
            }
            .then(p.link.cmp(&q.link))
        });
        let (x1, x2) = gap_span(g);
        let step = (x2 - x1) / (here.len() + 1) as f64;
        for (k, j) in here.iter().enumerate() {
            channel[j.link].push(((x1 + step * (k + 1) as f64) * 2.0).round() / 2.0);
        }
    }
    // Assemble each polyline. A link's channels were pushed in gap order.
    (0..n)
        .map(|i| {
            let l = &scene.links[i];
            let (from, to) = (layout.boxes[l.from], layout.boxes[l.to]);
            let mut p = vec![(from.right(), out_y[i]), (channel[i][0], out_y[i])];
            if let Some(y) = pass[i] {
                p.push((channel[i][0], y));
                p.push((channel[i][1], y));
                p.push((channel[i][1], in_y[i]));
            } else {
                p.push((channel[i][0], in_y[i]));
            }
            p.push((to.x, in_y[i]));
            p.dedup();
            p
        })
        .collect()
}

/// How many vertical runs each gap between columns holds.
pub(crate) fn runs_per_gap(layout: &Layout, paths: &[Path]) -> Vec<usize> {
    let mut runs = vec![0; layout.columns.len() - 1];
    for p in paths {
        for w in p.windows(2) {
            let ((x1, y1), (x2, y2)) = (w[0], w[1]);
            if x1 == x2 && y1 != y2 {
                if let Some(g) = (0..runs.len()).find(|&g| x1 > layout.columns[g].0 && x1 < layout.columns[g + 1].0) {
                    runs[g] += 1;
                }
            }
        }
    }
    runs
}

/// Spreads each box side's links along it, ordered by the other end's height.
fn attachments(scene: &Scene, layout: &Layout) -> (Vec<f64>, Vec<f64>) {
    let n = scene.links.len();
    let mut out_y = vec![0.0; n];
    let mut in_y = vec![0.0; n];
    for (node, r) in layout.boxes.iter().enumerate() {
        for outgoing in [true, false] {
            let mut here: Vec<(f64, usize, usize)> = scene
                .links
                .iter()
                .enumerate()
                .filter(|(_, l)| if outgoing { l.from == node } else { l.to == node })
                .map(|(i, l)| {
                    let other = if outgoing { l.to } else { l.from };
                    (layout.boxes[other].centre_y(), l.class as usize, i)
                })
                .collect();
            here.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let margin = (r.h * 0.12).min(14.0);
            let step = (r.h - 2.0 * margin) / (here.len() + 1) as f64;
            for (k, &(_, _, i)) in here.iter().enumerate() {
                let y = ((r.y + margin + step * (k + 1) as f64) * 2.0).round() / 2.0;
                if outgoing {
                    out_y[i] = y;
                } else {
                    in_y[i] = y;
                }
            }
        }
    }
    (out_y, in_y)
}

/// The free height nearest to `want` for a run across columns `cols`.
///
/// The vertical runs to and from the corridor, in the first and last gaps
/// (`ends`: each gap's x span and the height the run starts from), must be
/// clear of the legend and the load balancer's frame too.
fn corridor(
    scene: &Scene,
    layout: &Layout,
    cols: std::ops::Range<usize>,
    (x1, x2): (f64, f64),
    ends: [((f64, f64), f64); 2],
    taken: &[(f64, f64, f64)],
) -> f64 {
    let want = ends[0].1;
    let mut obstacles: Vec<Rect> = (0..scene.nodes.len())
        .filter(|&i| cols.contains(&scene.nodes[i].col.index()))
        .map(|i| layout.boxes[i])
        .collect();
    if let Some((frame, _)) = &layout.balancer {
        obstacles.push(*frame);
    }
    obstacles.push(layout.legend);
    let clear = |(gx1, gx2): (f64, f64), from: f64, to: f64| {
        let (lo, hi) = (from.min(to), from.max(to));
        obstacles
            .iter()
            .filter(|r| r.right() > gx1 && r.x < gx2)
            .all(|r| hi < r.y - CLEARANCE || lo > r.bottom() + CLEARANCE)
    };
    let free = |y: f64| {
        y >= layout.top
            && ends.iter().all(|&(gap, from)| clear(gap, from, y))
            && obstacles
                .iter()
                .filter(|r| r.right() > x1 && r.x < x2)
                .all(|r| y < r.y - CLEARANCE || y > r.bottom() + CLEARANCE)
            && taken
                .iter()
                .filter(|(a, b, _)| *b > x1 && *a < x2)
                .all(|(_, _, ty)| (y - ty).abs() >= SPACING)
    };
    (0..4000)
        .flat_map(|k| [want + f64::from(k) * 2.0, want - f64::from(k) * 2.0])
        .find(|&y| free(y))
        .unwrap_or(layout.height)
}
