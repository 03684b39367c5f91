//! `berth recover --from TARGET`: a lost host rebuilt on a fresh one from
//! its offsite copies. Like `serve`, a host-level procedure beside the
//! operations door: it starts where no database exists yet, then runs
//! berth's own start-up.
//!
//! 1. [`state`]: berth's newest state copy: database, sealer key, Caddy's
//!    certificates; the old config file beside the operator's. The old
//!    host's jobs and pids are settled and backups whose archives were on
//!    its disk marked lost (`store::recovered`).
//! 2. [`instances`]: every live instance's newest good snapshot,
//!    downloaded, verified and unpacked into its data dir.
//! 3. [`converge`]: the daemon's start-up in-process until every instance
//!    is healthy (or stopped, as desired) or `--wait` passes.
//!
//! A [`journal`] in `<data_dir>/recovered/` makes a cut-off run continue
//! where it stopped. The [`report`] is printed and kept in the reports dir.

mod converge;
mod instances;
mod journal;
mod report;
mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::audit::{self, Actor};
use crate::config::{mask_userinfo, Config};
use crate::domain::DesiredState;
use crate::offsite::restic_for;
use crate::store::{instances as instance_rows, recovered, Store};

pub use converge::Health;
pub use report::{InstanceReport, Report};
pub use state::StateRestored;

/// Where progress lines go (stdout, or stderr under `--json`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

pub struct Options {
    /// The `[[offsite]]` target's name.
    pub from: String,
    /// A `berth-state` snapshot id; default the newest.
    pub snapshot: Option<String>,
    /// How long step 3 waits for every instance.
    pub wait: Duration,
    /// Instances downloaded at once; default `backup.offsite_concurrency`.
    pub parallel: Option<usize>,
}

/// Runs the recovery; Err is a refusal or a failure before any instance
/// was looked at, in one line. Ok carries the report, which says whether
/// everything came back.
pub async fn run(config: Config, opts: Options, say: Say) -> Result<Report, String> {
    let target = config.offsite_target(&opts.from).cloned().ok_or_else(|| {
        format!(
            "no offsite target {:?} in the config: recover needs the [[offsite]] section \
                 (repository and password) the old host copied to",
            opts.from
        )
    })?;
    let resumed = precondition(&config, &opts.from)?;
    let config = Arc::new(config);
    let restic = restic_for(&config, &target);
    let started_at = crate::store::now();
    say(format!(
        "berth recover from {} ({})",
        target.name,
        mask_userinfo(&target.repository)
    ));

    let (mut journal, state) = match resumed {
        Some(j) => {
            say(format!(
                "step 1/3, state: restored by the run started at {}; continuing",
                j.started_at
            ));
            (j, None)
        }
        None => {
            let (r, want) = (restic.clone(), opts.snapshot.clone());
            let snap = crate::backup::blocking(move || state::choose(&r, want.as_deref())).await?;
            say(format!(
                "step 1/3, state: snapshot {} of {}",
                snap.short_id,
                report::when(&snap.time)
            ));
            let mut j = journal::Journal {
                target: target.name.clone(),
                started_at: started_at.clone(),
                ..Default::default()
            };
            journal::save(&config.data_dir, &j)?;
            let (r, c) = (restic.clone(), config.clone());
            let st = crate::backup::blocking(move || state::restore(&r, &c, &snap)).await?;
            report::say_state(&say, &config, &st);
            j.state = Some(st.clone());
            journal::save(&config.data_dir, &j)?;
            (j, Some(st))
        }
    };
    let state = state.or_else(|| journal.state.clone());

    let store = Store::open(&config.db_path()).map_err(|e| format!("opening the database: {e}"))?;
    if !journal.settled {
        let lost = settle(&store, &config, &target.name).await?;
        if lost > 0 {
            say(format!(
                "  {lost} backup archive(s) were on the old host's disk: marked lost (verify failed)"
            ));
        }
        journal.settled = true;
        journal.lost_archives = lost;
        journal::save(&config.data_dir, &journal)?;
    }

    let lost = journal.lost_archives;
    let live: Vec<_> = store
        .read(instance_rows::list_all)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| r.desired.is_live())
        .collect();
    let parallel = opts.parallel.unwrap_or(config.backup.offsite_concurrency);
    say(format!(
        "step 2/3, instances: {} to restore, {parallel} at a time",
        live.len()
    ));
    let r = restic.clone();
    let snapshots = crate::backup::blocking(move || r.snapshots(Some("berth"))).await?;
    let ctx = instances::Ctx {
        config: config.clone(),
        store: store.clone(),
        restic,
        journal: Arc::new(Mutex::new(journal)),
        say: say.clone(),
    };
    let outcomes = instances::restore_all(&ctx, live, &snapshots, parallel).await;
    keep_unrestored_stopped(&ctx, &outcomes).await?;
    let restored = outcomes.iter().filter(|o| o.restored.is_some()).count();
    let (t, n) = (target.name.clone(), outcomes.len());
    store
        .call(move |c| {
            audit::record(
                c,
                &Actor::cli(),
                "host.recover",
                &t,
                None,
                json!({ "instances": n, "restored": restored, "lost_archives": lost }),
            )
        })
        .await
        .map_err(|e| e.to_string())?;
    drop(store);

    say(format!(
        "step 3/3, start-up: berth runs until every instance is healthy (at most {}s)",
        opts.wait.as_secs()
    ));
    let ids = outcomes.iter().map(|o| o.instance.id).collect();
    let rows = converge::converge((*config).clone(), ids, opts.wait, &say).await?;

    let mut report = report::build(
        &target.name,
        started_at,
        state,
        lost,
        restored,
        outcomes,
        &rows,
    );
    report::write(&config, &mut report)?;
    if report.ok {
        let mut j = ctx
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        j.finished_at = Some(report.finished_at.clone());
        journal::save(&config.data_dir, &j)?;
    }
    Ok(report)
}

/// A fresh host: berth stopped and no database, or a recovery cut off
/// midway (its journal) to continue. Anything else is refused, in one line.
fn precondition(config: &Config, from: &str) -> Result<Option<journal::Journal>, String> {
    if std::net::TcpListener::bind(config.listen).is_err() {
        return Err(format!(
            "something already listens on {}: stop berth first (systemctl stop berth)",
            config.listen
        ));
    }
    let db = config.db_path();
    let journal = journal::load(&config.data_dir)?;
    if !db.exists() {
        return Ok(None);
    }
    match journal {
        None => Err(format!(
            "{} exists: recover rebuilds a host whose data dir has no database; \
             this one has its own (move it away only if it is truly unwanted)",
            db.display()
        )),
        Some(j) if j.finished_at.is_some() => Err(format!(
            "this host was already recovered from {} ({}); its database is in use",
            j.target,
            j.finished_at.unwrap_or_default()
        )),
        Some(j) if j.target != from => Err(format!(
            "a recovery from target {} was interrupted here; run `berth recover --from {}` to finish it",
            j.target, j.target
        )),
        Some(j) => Ok(Some(j)),
    }
}

/// The old host's jobs ended and its lost archives marked; how many were lost.
async fn settle(store: &Store, config: &Config, target: &str) -> Result<usize, String> {
    let why = format!("the host was rebuilt from offsite target {target} (berth recover)");
    let root = config.backup_dir();
    let lost_why = format!(
        "archive missing: it was on the old host's disk; {} from offsite target {target}",
        "this host was rebuilt by berth recover"
    );
    store
        .call(move |c| {
            recovered::settle_old_host(c, &why)?;
            let lost: Vec<i64> = recovered::archived(c)?
                .into_iter()
                .filter(|(_, path)| !root.join(path).exists())
                .map(|(id, _)| id)
                .collect();
            recovered::mark_lost(c, &lost, &lost_why)?;
            Ok(lost.len())
        })
        .await
        .map_err(|e| format!("settling the recovered database: {e}"))
}

/// Instances whose data did not come back are set to stopped (a client's
/// empty site must not answer as theirs); ones a later run restores get
/// their desired state back. Both are remembered in the journal.
async fn keep_unrestored_stopped(
    ctx: &instances::Ctx,
    outcomes: &[instances::Outcome],
) -> Result<(), String> {
    let kept = ctx
        .journal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .kept_stopped
        .clone();
    let mut changes = Vec::new();
    for o in outcomes {
        let id = o.instance.id;
        match (&o.restored, kept.get(&id)) {
            (None, None) if o.instance.desired == DesiredState::Running => {
                changes.push((id, DesiredState::Stopped, Some(o.instance.desired)));
            }
            (Some(_), Some(before)) => {
                let before = before.parse().unwrap_or(DesiredState::Running);
                changes.push((id, before, None));
            }
            _ => {}
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let rows = changes.clone();
    ctx.store
        .call(move |c| {
            for (id, desired, _) in &rows {
                instance_rows::set_desired(c, *id, *desired)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut j = ctx.journal.lock().unwrap_or_else(|p| p.into_inner());
    for (id, _, before) in changes {
        match before {
            Some(b) => j.kept_stopped.insert(id, b.to_string()),
            None => j.kept_stopped.remove(&id),
        };
    }
    journal::save(&ctx.config.data_dir, &j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_host_or_an_interrupted_recovery_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(precondition(&config, "box").unwrap(), None);
        std::fs::write(config.db_path(), b"").unwrap();
        let err = precondition(&config, "box").unwrap_err();
        assert!(err.contains("berth.db exists"), "{err}");

        let mut j = journal::Journal {
            target: "box".into(),
            started_at: "t".into(),
            ..Default::default()
        };
        journal::save(&config.data_dir, &j).unwrap();
        assert_eq!(precondition(&config, "box").unwrap(), Some(j.clone()));
        let err = precondition(&config, "other").unwrap_err();
        assert!(err.contains("--from box"), "{err}");
        j.finished_at = Some("then".into());
        journal::save(&config.data_dir, &j).unwrap();
        let err = precondition(&config, "box").unwrap_err();
        assert!(err.contains("already recovered"), "{err}");

        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = Config {
            listen: taken.local_addr().unwrap(),
            ..config
        };
        let err = precondition(&busy, "box").unwrap_err();
        assert!(err.contains("stop berth first"), "{err}");
    }

    #[test]
    fn snapshot_times_read_to_the_second_in_utc() {
        assert_eq!(
            report::when("2026-12-03T09:24:23.836683761+01:00"),
            "2026-12-03 08:24:23 UTC"
        );
        assert_eq!(report::when("not a time"), "not a time");
    }
}
