//! The rollout worker: carries out rollouts and manual rollbacks, which
//! `ops::` wrote as rows. Each rollout pulls its image, then walks its
//! steps wave by wave; each step backs its instance up (stop if that
//! fails), pins the new image ID as the instance's desired image (the
//! reconciler recreates the container), waits for it to be healthy and
//! otherwise rolls back: the old image ID pinned again and the pre-update
//! backup restored in place. Every transition is a row written before the
//! next action, so a restarted berth resumes each step where it stood.
//!
//! `worker` drives rollouts, `step` one instance's step, `cleanup` removes
//! images no longer needed once a rollout has finished.

mod cleanup;
mod step;
mod worker;

pub use worker::RolloutWorker;
