//! maud views: one layout, shared components. Pages compose them in
//! `web::pages`. maud escapes every interpolated value, so client names
//! with markup in them are shown as text.

pub mod backups;
pub mod components;
pub mod layout;
