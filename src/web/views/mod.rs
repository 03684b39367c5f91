//! maud views. `charts` are reusable SVG chart components; `usage` renders
//! the usage pages.

pub mod charts;
pub mod usage;
