//! berth's integration tests: one binary, so the crate links once. Each module
//! is one area; all of them share `harness` (real Caddy, Docker clean-up,
//! ports, names, waits).

#[path = "../harness/mod.rs"]
mod harness;

mod api_input;
mod backup;
mod billing_ids;
mod caddy_adapter;
mod caddy_drift;
mod cli;
mod client_users;
mod core;
mod crash;
mod crash_points;
mod deletion_jobs;
mod docker_adapter;
mod erasure;
mod gdpr;
mod harness_smoke;
mod llm;
mod llm_api;
mod llm_failures;
mod llm_inject;
mod llm_meter;
mod names;
mod network_pool;
mod offsite;
mod offsite_clone;
mod offsite_crash;
mod offsite_maintenance;
mod offsite_verify;
mod ops_conflicts;
mod package;
mod portal_flow;
mod portal_scope;
mod pull;
mod readme_run;
mod recover;
mod requests;
mod rollout_crash;
mod rollouts;
mod scheduler;
mod service_user;
mod tenant_dirs;
mod ui;
mod ui_backup;
mod ui_logs;
mod ui_offsite;
mod ui_portal;
mod ui_rollouts;
mod update_check;
mod updates;
mod usage;
mod web_edge;
