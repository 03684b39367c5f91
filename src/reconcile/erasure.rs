//! The last step of a confirmed delete, in one transaction: the rows go
//! (for a whole client, everything that names it: see
//! `store::erasure`), the report is built from what each statement
//! touched, stored, written to its file, and the job is done. A failure
//! anywhere rolls it all back and the next pass tries again.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::domain::{
    erased_label, Category, DeletionReport, KeptBillingMonth, RemovedInstance, SubjectProof,
    REPORT_SCHEMA,
};
use crate::metrics::export;
use crate::store::erasure::{self, Subject};
use crate::store::{
    clients, deletions, llm, offsite_runs, usage, Conn, DeletionRow, Store, StoreError,
};

/// What the job found on disk before removing it; recorded in the job so
/// a run after a crash (the files already gone) reports the same.
#[derive(Serialize, Deserialize)]
pub(super) struct Removed {
    pub instances: Vec<RemovedInstance>,
    pub backup_files: BackupFiles,
}

/// Backup files: archives (and partial files) and their manifests, each
/// as (files, bytes).
#[derive(Default, Serialize, Deserialize)]
pub(super) struct BackupFiles {
    pub archives: (u64, u64),
    pub manifests: (u64, u64),
}

/// LLM key labels: deleted at the provider, and left there (no provider configured).
pub(super) type LlmKeys = (Vec<String>, Vec<String>);

pub(super) async fn commit(
    store: &Store,
    config: &Config,
    job: &DeletionRow,
    removed: Removed,
    llm_keys: LlmKeys,
) -> Result<(), StoreError> {
    let (job, reports_dir) = (job.clone(), config.reports_dir());
    let targets: Vec<String> = config.offsite.iter().map(|t| t.name.clone()).collect();
    store
        .call(move |conn| {
            let tx = conn.transaction()?;
            // Counted while the instances' rows still name their copies.
            let offsite = offsite_runs::queue_deletion(&tx, &targets, job.id, &job.instance_ids)?;
            let mut report = rows_and_report(&tx, &job, removed, llm_keys, &reports_dir)?;
            report.categories.extend(offsite);
            if job.whole_client {
                let records = offsite_runs::erase_client_rows(&tx, &job.client_slug)?;
                if records > 0 || !targets.is_empty() {
                    report
                        .categories
                        .push(Category::erased("offsite copy and run records", records));
                }
            }
            deletions::set_done(&tx, job.id, &report)?;
            let mut files = vec![(report.report_file.clone(), report)];
            if job.whole_client {
                let subject = Subject {
                    deletion_id: job.id,
                    client_id: job.client_id,
                    slug: &job.client_slug,
                };
                let dir = reports_dir.clone();
                let file = move |id| report_path(&dir, id).display().to_string();
                files.extend(erasure::pseudonymise_deletions(&tx, &subject, file)?);
                audit::record(
                    &tx,
                    &Actor::system(),
                    "client.erased",
                    &format!("deletion:{}", job.id),
                    Some(&erased_label(job.id)),
                    json!({ "deletion": job.id, "client_id": job.client_id }),
                )?;
            }
            for (before, report) in &files {
                write_report(&reports_dir, before, report)
                    .map_err(|e| StoreError::Invalid(format!("writing deletion report: {e}")))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Deletes the rows and builds the report. For a whole client the
/// billing months and the subject proof are taken before its rows go.
fn rows_and_report(
    tx: &Conn,
    job: &DeletionRow,
    removed: Removed,
    (llm_keys_deleted, llm_keys_left): LlmKeys,
    reports_dir: &Path,
) -> Result<DeletionReport, StoreError> {
    let mut categories = file_categories(&removed);
    categories.push(Category::erased(
        "LLM keys deleted at the provider",
        llm_keys_deleted.len() as u64,
    ));
    categories.extend(erasure::remove_instances(tx, &job.instance_ids)?);
    let mut report = DeletionReport {
        schema: REPORT_SCHEMA.into(),
        deletion_id: job.id,
        client_id: job.client_id,
        client: job.client_slug.clone(),
        client_name: job.client_name.clone(),
        client_deleted: job.whole_client,
        subject_proof: None,
        instances: removed.instances,
        categories,
        billing_kept: Vec::new(),
        llm_keys_deleted,
        llm_keys_left,
        deleted_at: crate::store::now(),
        deleted_by: job.requested_by.clone(),
        report_file: report_path(reports_dir, job.id).display().to_string(),
    };
    if !job.whole_client {
        return Ok(report);
    }
    report.billing_kept = billing_months(tx, job.client_id, &job.client_slug)?;
    report.subject_proof = match clients::get(tx, &job.client_slug) {
        Ok(c) if c.id == job.client_id => Some(SubjectProof::new(
            hex::encode(rand::random::<[u8; 16]>()),
            &c.slug,
            &c.email,
        )),
        Ok(_) | Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let subject = Subject {
        deletion_id: job.id,
        client_id: job.client_id,
        slug: &job.client_slug,
    };
    report
        .categories
        .extend(erasure::erase_client(tx, &subject)?);
    Ok(report.pseudonymised(job.id))
}

fn file_categories(removed: &Removed) -> Vec<Category> {
    let data_bytes = removed.instances.iter().map(|i| i.data_bytes).sum();
    let data_files = removed.instances.iter().map(|i| i.data_files).sum();
    let b = &removed.backup_files;
    vec![
        Category::erased_files("instance data files", data_files, data_bytes),
        Category::erased_files("backup archives", b.archives.0, b.archives.1),
        Category::erased_files("backup manifests", b.manifests.0, b.manifests.1),
    ]
}

/// The client's usage per month, without any name: what the provider's
/// books need after the history itself is erased.
fn billing_months(
    tx: &Conn,
    client_id: i64,
    slug: &str,
) -> Result<Vec<KeptBillingMonth>, StoreError> {
    let to = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let (subjects, hourly) = usage::client_history(tx, client_id, to)?;
    let spend = llm::monthly_spend(tx, slug)?;
    let lines =
        export::with_llm_months(export::monthly(&subjects, &hourly), slug, client_id, &spend);
    Ok(lines
        .into_iter()
        .map(|l| KeptBillingMonth {
            month: l.month,
            instances: l.instances,
            instance_hours: l.instance_hours,
            cpu_core_hours: l.cpu_core_hours,
            memory_gib_hours: l.memory_gib_hours,
            storage_gib_months: l.storage_gib_months,
            network_in_gib: l.network_in_gib,
            network_out_gib: l.network_out_gib,
            llm_usd: l.llm_usd,
        })
        .collect())
}

/// Named by the deletion's id only: a file name must not name the client.
fn report_path(dir: &Path, id: i64) -> std::path::PathBuf {
    dir.join(format!("deletion-{id}.json"))
}

/// Writes (or rewrites, once pseudonymised) a report's file; the file it
/// was kept in `before` under another name goes (that name held the
/// client's slug in reports older than this scheme).
fn write_report(dir: &Path, before: &str, report: &DeletionReport) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = Path::new(&report.report_file);
    let text = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, text)?;
    let before = Path::new(before);
    if before != path && before.starts_with(dir) {
        let _ = std::fs::remove_file(before);
    }
    Ok(())
}
