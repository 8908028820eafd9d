//! Renders a gatehouse topology: the SVG/DOT diagram, the accessible text
//! description in English, Spanish and French, and the nftables export.
//! Pure functions of a [`gatehouse_model::Plan`]; no I/O.

pub mod describe;
pub mod diagram;
pub mod nftables;
