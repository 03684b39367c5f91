//! maud views: one layout, shared components, SVG charts. Pages compose
//! them in `web::pages` (and `web::usage_pages`). maud escapes every
//! interpolated value, so client names with markup in them are shown as text.

pub mod backups;
pub mod charts;
pub mod components;
pub mod layout;
pub mod usage;
