//! A test-restore: one instance's newest offsite snapshot downloaded into
//! scratch space under the data dir and verified exactly as a local backup
//! is (`backup::verify`: the archive's sha256, every tar entry read to its
//! end, SQLite's integrity_check on every database), then compared with
//! the local backup it was copied from when that is still kept (the tar's
//! sha256). The scratch dir goes afterwards, whatever happened; live data
//! and local backups are only read. Instances take turns: the one
//! test-restored least recently on the target goes next.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::download::{self, Download};
use super::restic::{Restic, Snapshot};
use super::retention::snapshot_time;
use super::Worker;
use crate::domain::BackupStatus;
use crate::store::offsite_runs::{self as runs, RunDone, RunRow, Sample};
use crate::store::{backups, instances};

/// An existing instance a test-restore may take.
struct Candidate {
    id: i64,
    client: String,
    name: String,
    since: i64,
}

impl Worker {
    pub(super) async fn test_restore(
        &self,
        restic: Restic,
        row: &RunRow,
    ) -> Result<RunDone, String> {
        let (target, want) = (row.target.clone(), row.instance_id);
        let (candidates, tested) = self
            .store
            .read(move |c| {
                let list = instances::list_all(c)?
                    .into_iter()
                    .filter(|i| want.is_none_or(|w| w == i.id))
                    .map(|i| Candidate {
                        id: i.id,
                        since: unix(&i.created_at),
                        client: i.client_slug,
                        name: i.name,
                    })
                    .collect::<Vec<_>>();
                Ok((list, runs::test_restored(c, &target)?))
            })
            .await
            .map_err(|e| e.to_string())?;
        if let (Some(id), true) = (want, candidates.is_empty()) {
            return Err(format!("instance {id} not found"));
        }
        if candidates.is_empty() {
            return Ok(RunDone {
                message: "no instance exists yet: nothing to test-restore".into(),
                ..RunDone::default()
            });
        }
        let r = restic.clone();
        let snapshots = crate::backup::blocking(move || r.snapshots(Some("berth"))).await?;
        let (inst, snapshot) =
            choose(&candidates, &snapshots, &tested).ok_or_else(|| match want {
                Some(id) => format!("instance {id} has no snapshot on this target"),
                None => "no existing instance has a snapshot on this target".to_owned(),
            })?;
        let sample = Sample {
            instance_id: Some(inst.id),
            client_slug: inst.client.clone(),
            instance_name: inst.name.clone(),
            snapshot_id: snapshot.id.clone(),
        };
        let (id, s) = (row.id, sample.clone());
        self.store
            .call(move |c| runs::set_sample(c, id, &s))
            .await
            .map_err(|e| e.to_string())?;
        let local = self.local_archive(&snapshot).await;
        let scratch = scratch_dir(&self.config.data_dir, row.id);
        let d = Download {
            partial: scratch.join("download.partial"),
            archive: scratch.join(format!("{}--{}.tar.zst", inst.client, inst.name)),
            client: inst.client.clone(),
            instance: inst.name.clone(),
            instance_id: inst.id,
            level: 1,
        };
        let dir = scratch.clone();
        let verified = crate::backup::blocking(move || {
            // A run of this id that died left nothing to trust.
            let _ = crate::fsutil::remove_tree(&dir);
            let result = download_and_verify(&restic, &snapshot, &d, local.as_ref());
            if let Err(e) = crate::fsutil::remove_tree(&dir) {
                tracing::warn!(error = %e, "cannot remove a test-restore's scratch dir");
            }
            result
        })
        .await?;
        Ok(RunDone {
            message: format!(
                "{}/{} snapshot {}: {}",
                sample.client_slug,
                sample.instance_name,
                &sample.snapshot_id[..sample.snapshot_id.len().min(8)],
                verified.1
            ),
            snapshots: Some(1),
            bytes: Some(verified.0),
            sample: Some(sample),
        })
    }

    /// The local backup a snapshot was copied from (tag `backup=`), if it
    /// is still kept: (id, archive).
    async fn local_archive(&self, snapshot: &Snapshot) -> Option<(i64, PathBuf)> {
        let id: i64 = snapshot.tag("backup")?.parse().ok()?;
        let b = self.store.read(move |c| backups::get(c, id)).await.ok()?;
        let path = b.path.filter(|_| b.status == BackupStatus::Ok)?;
        let file = self.config.backup_dir().join(path);
        file.is_file().then_some((id, file))
    }
}

/// The scratch dir of test-restore run `id`, under the data dir.
pub fn scratch_dir(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("offsite-test-restore").join(id.to_string())
}

/// The candidate tested least recently (never first, then by id) that has
/// a snapshot of its own, with its newest.
fn choose<'a>(
    candidates: &'a [Candidate],
    snapshots: &'a [Snapshot],
    tested: &HashMap<(String, String), String>,
) -> Option<(&'a Candidate, Snapshot)> {
    let mut with: Vec<(&Candidate, &Snapshot, Option<&String>)> = candidates
        .iter()
        .filter_map(|c| {
            let newest = snapshots
                .iter()
                .filter(|s| {
                    s.tag("client") == Some(&c.client)
                        && s.tag("instance") == Some(&c.name)
                        && snapshot_time(s).is_some_and(|t| t >= c.since)
                })
                .max_by_key(|s| (snapshot_time(s), s.id.clone()))?;
            Some((c, newest, tested.get(&(c.client.clone(), c.name.clone()))))
        })
        .collect();
    with.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.id.cmp(&b.0.id)));
    with.first().map(|(c, s, _)| (*c, (*s).clone()))
}

/// Downloads, verifies as a local backup and compares with the local
/// archive: (the instance's bytes, what was checked).
fn download_and_verify(
    restic: &Restic,
    snapshot: &Snapshot,
    d: &Download,
    local: Option<&(i64, PathBuf)>,
) -> Result<(u64, String), String> {
    let manifest = download::download(restic, snapshot, d)?;
    let scratch = d.archive.with_extension("verify");
    let summary = crate::backup::verify::verify(&d.archive, &manifest.sha256, &scratch)?;
    let compared = match local {
        Some((id, file)) => {
            let (ours, theirs) = (
                tar_sha256(&d.archive).map_err(|e| format!("reading the download: {e}"))?,
                tar_sha256(file).map_err(|e| format!("reading local backup {id}: {e}"))?,
            );
            if ours != theirs {
                return Err(format!(
                    "snapshot {} differs from local backup {id} it was copied from \
                     (tar sha256 {} against {})",
                    snapshot.short_id,
                    &ours[..12],
                    &theirs[..12]
                ));
            }
            format!("; identical to local backup {id}")
        }
        None => "; its local backup is no longer kept".to_owned(),
    };
    Ok((
        manifest.source_bytes,
        format!(
            "{} files, {} bytes, {summary}{compared}",
            manifest.files, manifest.source_bytes
        ),
    ))
}

/// sha256 of the tar inside a zstd archive.
fn tar_sha256(archive: &Path) -> io::Result<String> {
    let file = std::fs::File::open(archive).map_err(|e| crate::fsutil::path_error(archive, e))?;
    let mut decoder = zstd::stream::read::Decoder::new(file)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn unix(at: &str) -> i64 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, time: &str, client: &str, name: &str) -> Snapshot {
        Snapshot {
            id: id.into(),
            short_id: id.into(),
            time: time.into(),
            paths: vec![],
            tags: vec![
                "berth".into(),
                format!("client={client}"),
                format!("instance={name}"),
            ],
            hostname: String::new(),
        }
    }

    fn cand(id: i64, client: &str) -> Candidate {
        Candidate {
            id,
            client: client.into(),
            name: "main".into(),
            since: 0,
        }
    }

    #[test]
    fn the_instance_tested_least_recently_goes_next_with_its_newest_snapshot() {
        let c = [cand(1, "a"), cand(2, "b"), cand(3, "nosnap")];
        let s = [
            snap("a1", "2026-01-01T00:00:00Z", "a", "main"),
            snap("a2", "2026-01-02T00:00:00Z", "a", "main"),
            snap("b1", "2026-01-01T00:00:00Z", "b", "main"),
        ];
        let mut tested = HashMap::new();
        let (i, snap) = choose(&c, &s, &tested).unwrap();
        assert_eq!(
            (i.id, snap.id.as_str()),
            (1, "a2"),
            "never tested, lowest id"
        );
        tested.insert(("a".into(), "main".into()), "2026-01-03T00:00:00Z".into());
        assert_eq!(choose(&c, &s, &tested).unwrap().0.id, 2);
        tested.insert(("b".into(), "main".into()), "2026-01-04T00:00:00Z".into());
        assert_eq!(choose(&c, &s, &tested).unwrap().0.id, 1);
        assert!(choose(&c[2..], &s, &tested).is_none());
    }
}
