//! Finds the sidecar manifests beside the archives (the manifest itself is
//! [`crate::domain::Manifest`]), so archives stay listable and restorable
//! when the database is lost (`berth backup import-manifests`).

use std::path::{Path, PathBuf};

use crate::domain::Manifest;

/// Every `<archive>.json` under `root` whose archive exists, as (relative
/// archive path, manifest). Unreadable manifests are reported, not fatal.
pub fn scan(root: &Path) -> (Vec<(String, Manifest)>, Vec<String>) {
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".tar.zst.json") {
                continue;
            }
            let archive: PathBuf = path.with_file_name(name.trim_end_matches(".json"));
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(m) if archive.is_file() => {
                    let rel = archive
                        .strip_prefix(root)
                        .unwrap_or(&archive)
                        .to_string_lossy()
                        .into_owned();
                    found.push((rel, m));
                }
                Ok(_) => problems.push(format!("{}: archive missing", path.display())),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    (found, problems)
}
