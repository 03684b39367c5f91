//! Following a job the daemon finishes: the CLI writes the request to the
//! store, `berth serve` carries it out, and the command waits for the end.

use std::time::Duration;

use super::Failure;
use crate::domain::{DeletionReport, DeletionStatus};
use crate::ops::{DeletionJob, Ops};

/// How long a delete waits for the daemon to take containers down and
/// remove the data.
const DELETION_DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

/// Waits until the deletion is done and returns its report.
pub async fn deletion(ops: &Ops, job: DeletionJob) -> Result<DeletionReport, Failure> {
    let deadline = tokio::time::Instant::now() + DELETION_DEADLINE;
    let mut job = job;
    loop {
        match (job.status, job.report) {
            (DeletionStatus::Done, Some(report)) => return Ok(report),
            (DeletionStatus::Failed, _) => {
                return Err(Failure::failed(format!(
                        "deletion {} failed: {}; confirm the delete again to finish it",
                        job.id, job.error
                    )))
            }
            (status, _) if tokio::time::Instant::now() > deadline => {
                return Err(Failure::failed(format!(
                        "deletion {} is still {} after {}s; is `berth serve` running? The delete is recorded and finishes once it runs",
                        job.id,
                        status.as_str(),
                        DELETION_DEADLINE.as_secs()
                    )))
            }
            _ => {}
        }
        tokio::time::sleep(POLL).await;
        job = ops.get_deletion(job.id).await?;
    }
}
