//! The client portal's pages: markup only, like the admin views.

pub mod activity;
pub mod backups;
pub mod instances;
pub mod usage;
