//! `gatehouse diagram`: the poster's picture, drawn from the live topology.
//!
//! User types on the left; the gateway router with its ACL; the Edge and
//! remote-access servers; the load balancer and reverse proxy with one VIP
//! per product; then the server groups by tier (front end, application,
//! database/storage) on the right. Traffic lines take the legend's colours
//! (green Lync SIP, blue Lync web, purple SharePoint, orange Exchange client,
//! grey Exchange mail) and the legend box gives their ports.
//!
//! The pipeline is pure and deterministic: the shared analysis
//! ([`crate::describe::network`]) becomes a [`scene`] of boxes and links,
//! [`layout`] places them using measured font widths, [`route`] draws the
//! links orthogonally through free space, and [`svg`] or [`dot`] writes it.

mod dot;
mod layout;
mod metrics;
mod route;
mod scene;
mod svg;

use gatehouse_model::topology::TrafficClass;
use gatehouse_model::Plan;

use crate::describe::i18n::Text;
use crate::describe::network::Network;
use crate::describe::Lang;

/// The legend's colour of a traffic class, as a CSS hex colour.
pub fn legend_colour(class: TrafficClass) -> &'static str {
    svg::colour(class)
}

/// The diagram as an accessible SVG document, labelled in `lang`.
pub fn diagram_svg(plan: &Plan, lang: Lang) -> String {
    let net = Network::new(plan);
    let scene = scene::build(&net, &Text::new(lang));
    // Route once with roomy gaps, then size each gap to the runs it holds.
    let first = layout::layout(&scene, &[96.0; 6]);
    let runs = route::runs_per_gap(&first, &route::route(&scene, &first));
    let layout = layout::layout(&scene, &layout::gaps(&runs));
    let paths = route::route(&scene, &layout);
    svg::write(&scene, &layout, &paths, lang.code())
}

/// The diagram as Graphviz DOT, labelled in `lang`.
pub fn diagram_dot(plan: &Plan, lang: Lang) -> String {
    let net = Network::new(plan);
    dot::write(&scene::build(&net, &Text::new(lang)))
}
