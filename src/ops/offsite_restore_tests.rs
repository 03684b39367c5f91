//! The stage an offsite restore shows, from both of its halves.

use super::*;

fn row(status: BackupStatus) -> OffsiteRestoreRow {
    OffsiteRestoreRow {
        id: 1,
        target: "box".into(),
        snapshot_id: "abc".into(),
        instance_id: 1,
        status,
        backup_id: None,
        restore_id: None,
        message: String::new(),
        runner_pid: None,
        created_at: String::new(),
        finished_at: None,
        mode: RestoreMode::Clone,
        source: "a/main".into(),
    }
}

fn local(status: BackupStatus) -> RestoreRow {
    RestoreRow {
        id: 2,
        backup_id: 3,
        instance_id: 1,
        mode: RestoreMode::Clone,
        status,
        message: String::new(),
        created_at: String::new(),
        finished_at: None,
    }
}

#[test]
fn the_stage_follows_both_halves() {
    use BackupStatus::*;
    use OffsiteRestoreStage as S;
    assert_eq!(S::of(&row(Queued), None), S::Queued);
    assert_eq!(S::of(&row(Running), None), S::Downloading);
    assert_eq!(S::of(&row(Failed), None), S::Failed);
    assert_eq!(S::of(&row(Ok), None), S::Restoring);
    assert_eq!(S::of(&row(Ok), Some(&local(Queued))), S::Restoring);
    assert_eq!(S::of(&row(Ok), Some(&local(Running))), S::Restoring);
    assert_eq!(S::of(&row(Ok), Some(&local(Ok))), S::Done);
    assert_eq!(S::of(&row(Ok), Some(&local(Failed))), S::Failed);
    assert!(S::Done.is_finished() && S::Failed.is_finished());
    assert!(!S::Restoring.is_finished());
}
