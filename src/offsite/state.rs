//! What berth's state copy holds besides the database and the config file,
//! so a rebuilt host can use the database it gets back:
//!
//! - the LLM sealer key (`[llm] secret_file`): clients' LLM keys and
//!   instances' first-start admin passwords are sealed with it in the
//!   database; without it they are unreadable (and a fresh key would be
//!   made at the first start);
//! - the managed Caddy's certificates and ACME account
//!   (`<data_dir>/caddy/data/caddy`): a host rebuilt without them asks the
//!   CA for every client's certificate at once, into its rate limits.
//!
//! Sessions, the restic cache, reports and the backups themselves stay
//! behind: logins are made again, the cache refills, instances come back
//! from their own snapshots. The copy is restic-encrypted; the staged
//! files are removed once restic has read them, like the database copy.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The names inside the state directory (and so inside its snapshot).
pub const DB: &str = "berth.db";
pub const CONFIG: &str = "berth.toml";
pub const SEALER_KEY: &str = "llm.key";
pub const CADDY_DATA: &str = "caddy-data";

/// Where the managed Caddy keeps certificates (its `XDG_DATA_HOME/caddy`).
pub fn caddy_storage(config: &Config) -> PathBuf {
    config.data_dir.join("caddy").join("data").join("caddy")
}

/// Copies the sealer key and Caddy's certificates into `dir` (each only
/// when it exists: a berth without LLM keys has no key file yet).
pub fn stage_extras(config: &Config, dir: &Path) -> Result<(), String> {
    let key = config.llm.secret_file(&config.data_dir);
    if key.is_file() {
        std::fs::copy(&key, dir.join(SEALER_KEY))
            .map_err(|e| format!("copying {}: {e}", key.display()))?;
    }
    let caddy = caddy_storage(config);
    let staged = dir.join(CADDY_DATA);
    crate::fsutil::remove_tree(&staged).map_err(|e| e.to_string())?;
    if caddy.is_dir() {
        copy_tree(&caddy, &staged, &["locks"])
            .map_err(|e| format!("copying {}: {e}", caddy.display()))?;
    }
    Ok(())
}

/// Removes what holds secrets from the staged directory (the database,
/// the key, the certificates' private keys) once restic has read it.
pub fn clear(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(DB));
    let _ = std::fs::remove_file(dir.join(SEALER_KEY));
    let _ = crate::fsutil::remove_tree(&dir.join(CADDY_DATA));
}

/// Regular files and directories of `src` into `dst` (created), never
/// through a link; top-level names in `skip` are left out.
pub fn copy_tree(src: &Path, dst: &Path, skip: &[&str]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dst)?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let ty = entry.file_type()?;
        let to = dst.join(&name);
        if ty.is_dir() {
            copy_tree(&entry.path(), &to, &[])?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_certificates_are_staged_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let key = config.llm.secret_file(&config.data_dir);
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, "k".repeat(64)).unwrap();
        let certs = caddy_storage(&config).join("certificates/acme/a.example");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("a.example.key"), "private").unwrap();
        std::fs::create_dir_all(caddy_storage(&config).join("locks")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", certs.join("link")).unwrap();

        let staged = dir.path().join("offsite-state");
        std::fs::create_dir_all(&staged).unwrap();
        stage_extras(&config, &staged).unwrap();
        assert_eq!(
            std::fs::read_to_string(staged.join(SEALER_KEY)).unwrap(),
            "k".repeat(64)
        );
        let copied = staged.join(CADDY_DATA).join("certificates/acme/a.example");
        assert_eq!(
            std::fs::read_to_string(copied.join("a.example.key")).unwrap(),
            "private"
        );
        assert!(!copied.join("link").exists(), "links are not followed");
        assert!(!staged.join(CADDY_DATA).join("locks").exists());

        clear(&staged);
        assert!(!staged.join(SEALER_KEY).exists() && !staged.join(CADDY_DATA).exists());
    }
}
