//! Runs a worker's queued jobs as tasks: each job at most once at a time in
//! this process (a later poll that sees it still queued or running skips
//! it) and at most `concurrency` jobs together. The backup worker and the
//! offsite worker both poll their queues this way.

use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;

/// A job: its kind (one letter per queue of the worker) and its row id.
pub type Job = (char, i64);

#[derive(Clone)]
pub struct JobPool {
    /// Names the worker in its log lines.
    worker: &'static str,
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashSet<Job>>>,
}

impl JobPool {
    pub fn new(worker: &'static str, concurrency: usize) -> Self {
        Self {
            worker,
            permits: Arc::new(Semaphore::new(concurrency)),
            in_flight: Arc::default(),
        }
    }

    /// Starts `run` for `job` once a permit is free, unless the job is
    /// already waiting or running here; a failure to run it is logged (the
    /// job's own row says how it ended).
    pub fn spawn<F, Fut, T, E>(&self, job: Job, run: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send,
        E: Display,
    {
        if !self.jobs().insert(job) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            let _permit = pool.permits.acquire().await;
            if let Err(e) = run().await {
                tracing::warn!(worker = pool.worker, job = ?job, error = %e, "job failed to run");
            }
            pool.jobs().remove(&job);
        });
    }

    fn jobs(&self) -> MutexGuard<'_, HashSet<Job>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }
}
