//! berth's integration tests: one binary, so the crate links once. Each module
//! is one area; all of them share `harness` (real Caddy, Docker clean-up,
//! ports, names, waits).

#[path = "../harness/mod.rs"]
mod harness;

mod api_input;
mod backup;
mod caddy_adapter;
mod cli;
mod core;
mod crash;
mod docker_adapter;
mod harness_smoke;
mod package;
mod pull;
mod service_user;
mod ui;
mod ui_backup;
mod usage;
