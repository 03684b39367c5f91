//! Step 2: every live instance of the recovered database gets its newest
//! good offsite snapshot back: downloaded into a local archive (the
//! offsite restore's `download`), recorded as a backup, verified like any
//! local backup (sha256, the whole tar, SQLite `integrity_check`), unpacked
//! beside its data dir (the local restore's unpacker: no links followed,
//! no set-id bits) and renamed into place. A snapshot that fails any of
//! that is skipped for the next older one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;

use super::journal::{self, Journal, Restored};
use super::Say;
use crate::backup::{archive, verify};
use crate::config::Config;
use crate::offsite::download::{self, Download};
use crate::offsite::{Restic, Snapshot};
use crate::store::{backups, InstanceRow, Store};

/// Older snapshots tried when the newest fails to download or verify.
const CANDIDATES: usize = 3;

/// How one instance's data came back, or why it did not.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub instance: InstanceRow,
    /// The restore, from this run or (`resumed`) an earlier one.
    pub restored: Option<Restored>,
    pub resumed: bool,
    pub error: Option<String>,
}

/// What every instance's restore shares.
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Store,
    pub restic: Restic,
    pub journal: Arc<Mutex<Journal>>,
    pub say: Say,
}

impl Ctx {
    /// Changes the journal and writes it (small, rare: under the lock).
    fn record(&self, f: impl FnOnce(&mut Journal)) -> Result<(), String> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut j);
        journal::save(&self.config.data_dir, &j)
    }
}

/// Restores `live` instances, at most `parallel` at once, in their order.
pub async fn restore_all(
    ctx: &Ctx,
    live: Vec<InstanceRow>,
    snapshots: &[Snapshot],
    parallel: usize,
) -> Vec<Outcome> {
    let total = live.len();
    let jobs = live.into_iter().enumerate().map(|(i, inst)| {
        let candidates = candidates(snapshots, &inst.client_slug, &inst.name);
        let ctx = ctx.clone();
        async move {
            let what = format!("{}/{}", inst.client_slug, inst.name);
            let outcome = restore_one(&ctx, inst, candidates).await;
            let line = match (&outcome.restored, &outcome.error) {
                (Some(r), _) if outcome.resumed => format!(
                    "  {what} ({} of {total}): already restored from snapshot {} by an earlier run",
                    i + 1,
                    short(&r.snapshot_id)
                ),
                (Some(r), _) => format!(
                    "  {what} ({} of {total}): snapshot {} of {} restored, {} in {} files",
                    i + 1,
                    short(&r.snapshot_id),
                    super::report::when(&r.snapshot_time),
                    crate::domain::size::human_bytes(r.bytes as f64),
                    r.files
                ),
                (None, e) => format!(
                    "  {what} ({} of {total}): NOT restored: {}",
                    i + 1,
                    e.as_deref().unwrap_or("unknown error")
                ),
            };
            (ctx.say)(line);
            crate::testhook::pause_at("recover-instance-restored").await;
            outcome
        }
    });
    futures_util::stream::iter(jobs)
        .buffer_unordered(parallel.max(1))
        .collect()
        .await
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The instance's complete copies on the target, newest first.
pub fn candidates(all: &[Snapshot], client: &str, instance: &str) -> Vec<Snapshot> {
    let mut mine: Vec<Snapshot> = all
        .iter()
        .filter(|s| {
            s.tag("client") == Some(client)
                && s.tag("instance") == Some(instance)
                && s.content().is_some()
        })
        .cloned()
        .collect();
    let at = |s: &Snapshot| chrono::DateTime::parse_from_rfc3339(&s.time).ok();
    mine.sort_by_key(|s| std::cmp::Reverse(at(s)));
    mine
}

async fn restore_one(ctx: &Ctx, inst: InstanceRow, candidates: Vec<Snapshot>) -> Outcome {
    let data = ctx.config.instance_data_dir(&inst.client_slug, &inst.name);
    let staging = data.with_file_name(format!(".{}.recover", inst.name));
    let earlier = ctx
        .journal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .instances
        .get(&inst.id)
        .cloned();
    let mut outcome = Outcome {
        instance: inst.clone(),
        restored: None,
        resumed: false,
        error: None,
    };
    if let Some(r) = earlier {
        // Unpacked by an earlier run: finish its rename if it was cut off.
        let (c, d, s, id) = (ctx.clone(), data.clone(), staging.clone(), inst.id);
        let done = crate::backup::blocking(move || {
            if !r.in_place && s.exists() {
                put_in_place(&s, &d)?;
            }
            let mut r = r;
            if !r.in_place {
                r.in_place = true;
                c.record(|j| {
                    j.instances.insert(id, r.clone());
                })?;
            }
            Ok(r)
        })
        .await;
        match done {
            Ok(r) => {
                outcome.restored = Some(r);
                outcome.resumed = true;
            }
            Err(e) => outcome.error = Some(e),
        }
        return outcome;
    }
    if candidates.is_empty() {
        outcome.error = Some("no snapshot of this instance on the target".into());
        return outcome;
    }
    let mut errors = Vec::new();
    for snap in candidates.into_iter().take(CANDIDATES) {
        match restore_snapshot(ctx, &inst, &snap, &data, &staging).await {
            Ok(r) => {
                outcome.restored = Some(r);
                return outcome;
            }
            Err(e) => errors.push(format!("snapshot {}: {e}", snap.short_id)),
        }
    }
    outcome.error = Some(errors.join("; "));
    outcome
}

async fn restore_snapshot(
    ctx: &Ctx,
    inst: &InstanceRow,
    snap: &Snapshot,
    data: &Path,
    staging: &Path,
) -> Result<Restored, String> {
    let root = ctx.config.backup_dir();
    let rel = format!(
        "{}/{}/{}-offsite-{}.tar.zst",
        inst.client_slug,
        inst.name,
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        snap.short_id
    );
    let archive = root.join(&rel);
    let d = Download {
        partial: archive::partial_path(&archive),
        archive: archive.clone(),
        client: inst.client_slug.clone(),
        instance: inst.name.clone(),
        instance_id: inst.id,
        level: ctx.config.backup.level,
    };
    let (restic, s) = (ctx.restic.clone(), snap.clone());
    let manifest = crate::backup::blocking(move || download::download(&restic, &s, &d)).await?;
    let (iid, m, r) = (inst.id, manifest.clone(), rel.clone());
    let backup_id = ctx
        .store
        .call(move |c| crate::store::offsite::insert_downloaded(c, iid, &m, &r))
        .await
        .map_err(|e| e.to_string())?;

    let scratch = root.join(format!(".recover-verify-{backup_id}"));
    let (a, sha) = (archive.clone(), manifest.sha256.clone());
    let checked = crate::backup::blocking(move || Ok(verify::verify(&a, &sha, &scratch)))
        .await
        .and_then(|r| r);
    let (ok, message) = match &checked {
        Ok(summary) => (true, summary.clone()),
        Err(e) => (false, e.clone()),
    };
    ctx.store
        .call(move |c| backups::finish_verify(c, backup_id, ok, &message))
        .await
        .map_err(|e| e.to_string())?;
    checked.map_err(|e| format!("verification failed: {e}"))?;

    let restored = Restored {
        snapshot_id: snap.id.clone(),
        snapshot_time: snap.time.clone(),
        bytes: manifest.source_bytes,
        files: manifest.files,
        backup_id,
        in_place: false,
    };
    let (c, d, s, id, r) = (
        ctx.clone(),
        data.to_path_buf(),
        staging.to_path_buf(),
        inst.id,
        restored.clone(),
    );
    crate::backup::blocking(move || {
        crate::fsutil::remove_tree(&s).map_err(|e| e.to_string())?;
        archive::extract_tree(&archive, &s)
            .map_err(|e| format!("unpacking {}: {e}", archive.display()))?;
        c.record(|j| {
            j.instances.insert(id, r.clone());
        })?;
        put_in_place(&s, &d)?;
        let mut r = r;
        r.in_place = true;
        c.record(|j| {
            j.instances.insert(id, r.clone());
        })?;
        Ok(r)
    })
    .await
}

/// Renames the unpacked `staging` to `data`. Whatever is at `data` already
/// (seed files of a start before the recovery, a half-restored tree) is
/// moved aside, never removed: data is only ever removed by a confirmed delete.
fn put_in_place(staging: &Path, data: &Path) -> Result<(), String> {
    if let Some(parent) = data.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    if std::fs::symlink_metadata(data).is_ok() && std::fs::remove_dir(data).is_err() {
        let aside = aside_path(data);
        std::fs::rename(data, &aside)
            .map_err(|e| format!("moving {} aside: {e}", data.display()))?;
        tracing::warn!(moved = %aside.display(), "recover found data in the way and kept it");
    }
    std::fs::rename(staging, data)
        .map_err(|e| format!("moving the restored data to {}: {e}", data.display()))
}

fn aside_path(data: &Path) -> PathBuf {
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    data.with_file_name(format!(
        ".{name}.before-recover-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, time: &str, client: &str, tar: bool) -> Snapshot {
        let mut tags = vec![format!("client={client}"), "instance=main".into()];
        if tar {
            tags.push("dir-bytes=10".into());
        }
        Snapshot {
            id: id.into(),
            short_id: id.into(),
            time: time.into(),
            paths: vec![],
            tags,
            hostname: String::new(),
        }
    }

    #[test]
    fn candidates_are_the_instances_complete_copies_newest_first() {
        let all = [
            snap("a", "2026-12-01T10:00:00.5+01:00", "acme", true),
            snap("b", "2026-12-01T09:30:00Z", "acme", true),
            snap("c", "2026-12-02T00:00:00Z", "other", true),
            snap("d", "2026-12-03T00:00:00Z", "acme", false),
        ];
        let ids: Vec<_> = candidates(&all, "acme", "main")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["b", "a"], "09:30Z is after 10:00+01:00");
    }

    #[test]
    fn data_in_the_way_is_moved_aside_an_empty_dir_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (staging, data) = (dir.path().join(".main.recover"), dir.path().join("main"));
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("f"), "restored").unwrap();
        std::fs::create_dir_all(&data).unwrap();
        put_in_place(&staging, &data).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "restored");

        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("f"), "second").unwrap();
        put_in_place(&staging, &data).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "second");
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".main.before-recover-"))
            .collect();
        assert_eq!(kept.len(), 1, "the first restore was kept aside");
    }
}
