use super::*;
use crate::config::Config;

fn target(repo: &str) -> OffsiteTarget {
    let toml = format!(
        "[[offsite]]\nname = \"t\"\nrepository = \"{repo}\"\npassword_file = \"/etc/pw\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(Some(&path), |_| None).unwrap().offsite[0].clone()
}

#[test]
fn an_sftp_target_gets_its_own_ssh_command() {
    let mut t = target("sftp:u1@box.example:/berth");
    t.sftp_port = Some(23);
    t.sftp_key_file = Some("/k/id".into());
    t.sftp_known_hosts = Some("/k/kh".into());
    t.limit_upload = Some(512);
    let r = Restic::new(t, "/c".into());
    let args = r.global_args();
    assert_eq!(
        args,
        [
            "--repo",
            "sftp:u1@box.example:/berth",
            "--cache-dir",
            "/c",
            "--password-file",
            "/etc/pw",
            "--limit-upload",
            "512",
            "-o",
            "sftp.command=ssh -p 23 -i /k/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/k/kh \
             -o StrictHostKeyChecking=yes -o BatchMode=yes u1@box.example -s sftp"
        ]
    );
    assert!(Restic::new(target("rest:http://h/r"), "/c".into())
        .sftp_command()
        .is_none());
}

#[test]
fn backup_json_lines_give_progress_and_the_summary() {
    let out = r#"{"message_type":"status","percent_done":0.5,"total_files":1,"bytes_done":500,"total_bytes":1000}
{"message_type":"verbose_status","action":"new","item":"x"}
not json at all
{"message_type":"summary","files_new":1,"data_added":123,"total_bytes_processed":1000,"snapshot_id":"4b2b1f74"}
"#;
    let mut seen = Vec::new();
    let summary = follow_backup(out.as_bytes(), |b| seen.push(b)).unwrap();
    assert_eq!(seen, [500]);
    assert_eq!(summary, Some(("4b2b1f74".into(), 123, 1000)));
    assert_eq!(follow_backup(&b""[..], |_| {}).unwrap(), None);
}

#[test]
fn exit_codes_become_clear_errors() {
    assert!(exit_error(Some(12), "").starts_with("wrong repository password"));
    assert!(
        exit_error(Some(1), "Fatal: wrong password or no key found\n")
            .starts_with("wrong repository password")
    );
    assert!(exit_error(Some(10), "").contains("berth offsite init"));
    assert!(exit_error(Some(1), "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n")
        .contains("does not exist"));
    assert!(exit_error(Some(11), "").contains("locked"));
    assert!(exit_error(Some(3), "").contains("incomplete"));
    assert!(exit_error(None, "").contains("signal"));
    assert_eq!(
        exit_error(Some(1), "Fatal: boom\n"),
        "restic failed (exit 1): Fatal: boom"
    );
}

#[test]
fn berth_tags_are_read_back() {
    let s = Snapshot {
        id: "a".into(),
        short_id: "a".into(),
        time: String::new(),
        paths: vec![],
        tags: vec![
            "berth".into(),
            "instance=main".into(),
            "tar-bytes=42".into(),
        ],
        hostname: String::new(),
    };
    assert_eq!(s.tag("instance"), Some("main"));
    assert_eq!(s.tag("tar-bytes"), Some("42"));
    assert_eq!(s.tag("client"), None);
}
