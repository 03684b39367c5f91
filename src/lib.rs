//! berth turns one Linux server into a multi-client hosting appliance.
//!
//! The one idea: every user action (web UI, JSON API, CLI) only writes
//! *desired state* to SQLite and wakes the reconciler; the reconciler alone
//! talks to Docker and Caddy and writes what it observed back.
//!
//! A tour of the rooms:
//! - [`domain`]: plain types with checked constructors (Slug, Hostname, Plan,
//!   Limits, ...). No IO.
//! - [`blueprint`]: app templates (`templates/*.toml`) and how an instance's
//!   container is derived from one.
//! - [`config`]: typed configuration: defaults → TOML file → `BERTH_*` env.
//! - [`store`]: SQLite (WAL, foreign keys, migrations) behind `spawn_blocking`.
//! - [`ops`]: the operations every front end shares: validate, write one
//!   transaction, audit, wake the reconciler.
//! - [`docker`]: the bollard adapter; labels are the contract with the engine.
//! - [`caddy`]: Caddy admin API client, config generation, managed child.
//! - [`reconcile`]: pure `plan(desired, actual)` and the worker that applies it;
//!   after each pass it finishes confirmed deletes (jobs in the store).
//! - [`backup`]: archives (tar + zstd + sha256), consistency, verify,
//!   retention, restore; the runner that does queued backup jobs. The one
//!   named exception to "only the reconciler talks to Docker": it holds a
//!   tenant still (pause, stop, exec, start) through `backup::Hold`, and
//!   the reconciler leaves a held instance alone.
//! - [`web`]: axum: the admin pages (sessions, CSRF, maud views) and the
//!   JSON API v1 (bearer tokens), built from one route table, behind one
//!   Host/Origin allowlist (`web::origin`).
//! - [`audit`]: who did what, when, from where; one entry per operation.
//! - [`housekeeping`]: prunes the audit log and expired sessions.
//! - [`fsutil`]: file work inside tenant data dirs that never follows a link
//!   (data dir, seeds, sizes); [`tls`]: the crypto provider for HTTPS webhooks.
//! - [`metrics`]: the usage sampler, history rollups, billing export and
//!   Prometheus text.
//! - [`cli`]: clap commands; [`app`] wires the long-running parts together.
//! - [`testhook`]: named pause points for kill -9 tests, inert unless set.

pub mod app;
pub mod audit;
pub mod backup;
pub mod blueprint;
pub mod caddy;
pub mod cli;
pub mod config;
pub mod docker;
pub mod domain;
pub mod fsutil;
pub mod housekeeping;
pub mod metrics;
pub mod ops;
pub mod reconcile;
pub mod store;
pub mod testhook;
pub mod tls;
pub mod web;
