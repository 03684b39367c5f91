//! maud views: markup only, from plain data (no axum types). One layout
//! with its [`layout::Chrome`], shared components, SVG charts, and one file
//! per page group; the handlers in `web::pages` fill them. maud escapes
//! every interpolated value, so client names with markup in them are shown
//! as text.

pub mod audit;
pub mod auth;
pub mod backups;
pub mod charts;
pub mod client_forms;
pub mod client_users;
pub mod clients;
pub mod components;
pub mod dashboard;
pub mod deletions;
pub mod handover;
pub mod instance_logs;
pub mod layout;
pub mod llm;
pub mod message;
pub mod offsite_restore;
pub mod plans;
pub mod portal;
pub mod requests;
pub mod restore;
pub mod rollouts;
pub mod tokens;
pub mod updates;
pub mod usage;
pub mod users;
