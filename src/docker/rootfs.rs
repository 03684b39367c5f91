//! A minimal busybox root filesystem, so berth can build its `static-site`
//! image (and tests their images) with no registry reachable.

use std::path::Path;

use tar::{Builder, EntryType, Header};

/// Applets linked to `/bin/busybox`; busybox picks the applet by argv[0].
const APPLETS: &[&str] = &[
    "sh", "httpd", "wget", "ls", "cat", "sleep", "echo", "mkdir", "dd", "head", "tail", "nc",
    "ping", "true", "false", "ps", "rm", "cp", "mv", "env", "id", "hostname", "tar", "gzip",
    "date", "kill", "test", "grep", "sed", "touch", "chmod", "chown", "du", "df", "sync", "wc",
    "whoami", "uname", "ln", "find", "timeout",
];

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// An in-memory tar of a rootfs around the given static busybox binary.
/// Deterministic (fixed mtimes and owners) so equal inputs give equal bytes.
pub fn busybox_rootfs(busybox: &Path) -> std::io::Result<Vec<u8>> {
    let binary = std::fs::read(busybox)?;
    let mut tar = Builder::new(Vec::new());
    for (dir, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("www", 0o755),
    ] {
        let mut h = header(EntryType::Directory, mode, 0);
        tar.append_data(&mut h, dir, std::io::empty())?;
    }
    let mut h = header(EntryType::Regular, 0o755, binary.len() as u64);
    tar.append_data(&mut h, "bin/busybox", binary.as_slice())?;
    for applet in APPLETS {
        let mut h = header(EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox")?;
    }
    for (path, body) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let mut h = header(EntryType::Regular, 0o644, body.len() as u64);
        tar.append_data(&mut h, path, body.as_bytes())?;
    }
    tar.into_inner()
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    #[test]
    fn rootfs_has_busybox_links_users_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("busybox");
        std::fs::write(&fake, b"not really busybox").unwrap();
        let bytes = busybox_rootfs(&fake).unwrap();
        assert_eq!(bytes, busybox_rootfs(&fake).unwrap(), "deterministic");

        let mut entries = HashMap::new();
        let mut archive = tar::Archive::new(bytes.as_slice());
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            let (kind, mode) = (e.header().entry_type(), e.header().mode().unwrap());
            let mut body = String::new();
            let _ = e.read_to_string(&mut body);
            entries.insert(path, (kind, mode, link, body));
        }
        let bb = &entries["bin/busybox"];
        assert_eq!(
            (bb.0, bb.1, bb.3.as_str()),
            (EntryType::Regular, 0o755, "not really busybox")
        );
        for applet in [
            "sh", "httpd", "wget", "ls", "cat", "sleep", "echo", "mkdir", "dd", "head", "nc",
            "ping",
        ] {
            let e = &entries[&format!("bin/{applet}")];
            assert_eq!(
                (e.0, e.2.as_deref()),
                (EntryType::Symlink, Some("busybox")),
                "{applet}"
            );
        }
        assert_eq!(entries["tmp"].0, EntryType::Directory);
        assert_eq!(entries["tmp"].1, 0o1777);
        assert_eq!(entries["www"].0, EntryType::Directory);
        assert!(entries["etc/passwd"].3.contains("nobody:x:65534:65534:"));
        assert!(entries["etc/passwd"].3.starts_with("root:x:0:0:"));
        assert!(entries["etc/group"].3.contains("nogroup:x:65534:"));
    }
}
