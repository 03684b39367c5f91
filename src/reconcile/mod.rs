//! The reconciler: the only part of berth that talks to Docker and Caddy.
//! `plan` and `desired` decide (pure); `worker` does and records, with
//! `apply` carrying out a plan's actions, `pulls` the image pulls they
//! start in the background and `pool` making networks ahead of need;
//! `deletions` finishes a confirmed delete once its containers are gone.

mod apply;
pub mod deletions;
pub mod desired;
mod digests;
mod erasure;
pub mod inject;
mod late;
pub mod observe;
pub mod plan;
mod pool;
mod pulls;
mod worker;

pub use worker::{ReconcileStats, Reconciler};
