//! berth turns one Linux server into a multi-client hosting appliance.
//!
//! The one idea: every user action (admin page, API call, CLI command) goes
//! through one door, [`ops`], which validates it into domain types, writes
//! *desired state* and its audit entry in one transaction and wakes the
//! worker that carries it out. Only workers talk to the outside world.
//!
//! The rooms, in the order of `ARCHITECTURE.md`'s map (imports point down
//! this list from the front ends to `domain`):
//! - [`cli`]: clap commands; `cli/mod.rs` owns dispatch and the error type,
//!   one file per command group.
//! - [`config`]: typed Config: defaults → TOML → `BERTH_*` env; paths made
//!   absolute at load; secrets masked.
//! - [`app`]: builds the web edge and every worker from one Config and runs
//!   them until shutdown.
//! - [`domain`]: plain types with checked constructors and the pure maths:
//!   Slug, Hostname, Plan, Limits, the state enums, rollups, the backup
//!   manifest, cron schedules. No IO.
//! - [`blueprint`]: app templates (`templates/*.toml`) → what an instance's
//!   container looks like.
//! - [`ops`]: THE door: every operation of every front end. Private fields;
//!   no rusqlite; Docker only to read an instance's recent output for the
//!   client portal and to pull for the update check (through [`updates`]).
//!   Returns view types (`InstanceView`, ...).
//! - [`store`]: SQLite: migrations, `Store::write` (one immediate
//!   transaction), `ToSql`/`FromSql` for the domain's states.
//! - [`docker`]: the bollard adapter; labels are the contract with the engine.
//! - [`caddy`]: config generation (pure), admin API client, managed child.
//! - [`reconcile`]: `desired` + `plan` (pure) and the worker that applies a
//!   plan; after each pass it finishes confirmed deletes (jobs in the store).
//! - [`backup`]: archives (tar + zstd + sha256), consistency, verify,
//!   retention, restore; the runner that does queued jobs. The one named
//!   exception to "only the reconciler talks to Docker": it holds a tenant
//!   still (pause, stop, exec, start) through `backup::Hold`, and the
//!   reconciler leaves a held instance alone.
//! - [`rollout`]: the rollout worker: pulls a rollout's image, backs each
//!   instance up, pins the new image ID (the reconciler recreates), waits
//!   for health and otherwise rolls back (old image + the backup restored
//!   through the backup runner); talks to Docker only to pull, inspect and
//!   remove images.
//! - [`metrics`]: the usage sampler, disk walks, billing export, Prometheus
//!   text.
//! - [`llm`]: clients' LLM keys at OpenRouter or LiteLLM: the key worker
//!   (create, disable, budget, rotate, delete; beside the reconciler, never
//!   in its pass) and the spend meter.
//! - [`updates`]: the update check: pull each blueprint's tag, record the
//!   image ID and digest it resolves to, tell which instances are behind.
//!   Run from `ops` and on `[updates] check_schedule` by the backup
//!   worker's scheduler; the reconciler's pulls use the same registry logins.
//! - [`offsite`]: copies of verified backups and berth's own state to
//!   restic repositories (`[[offsite]]`), and restores back from them
//!   through the local restore; its own worker beside the backup worker.
//! - [`recover`]: `berth recover`, a lost host rebuilt from its offsite
//!   copies: state, then every instance's data, then berth's start-up.
//! - [`audit`]: who did what, when, from where; record, query, retention.
//! - [`web`]: axum only: one route table with an `Access` per route, one
//!   `WebError`, `state.rs`; `pages/` (admin handlers), `portal/` (client
//!   users' handlers under `/portal`, their own sessions in
//!   `portal_session.rs`), `api/` (JSON v1) and `views/` (maud markup only).
//!
//! Small rooms the map does not draw: [`housekeeping`] (the daily audit and
//! session pruning worker), [`fsutil`] (file work inside hostile tenant dirs
//! that never follows a link), [`mail`] (invitation and reset links through
//! `[smtp]`), [`tls`] (the crypto provider for HTTPS
//! webhooks) and [`testhook`] (named pause points for kill -9 tests, inert
//! unless set).

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
pub mod llm;
pub mod mail;
pub mod metrics;
pub mod offsite;
pub mod ops;
pub mod reconcile;
pub mod recover;
pub mod rollout;
pub mod store;
pub mod testhook;
pub mod tls;
pub mod updates;
pub mod web;
