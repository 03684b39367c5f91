//! Where berth keeps things, and what it names them, derived from the
//! loaded config: directories under `data_dir`, container names, the
//! registry login for an image, the blueprint directory.

use std::path::{Path, PathBuf};

use super::{Config, OffsiteTarget, RegistryConfig};

impl Config {
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("berth.db")
    }

    /// Host directories bind-mounted into containers live here, one per instance.
    pub fn instances_dir(&self) -> PathBuf {
        self.data_dir.join("instances")
    }

    /// The host directory bind-mounted into an instance's container.
    pub fn instance_data_dir(&self, slug: &str, instance: &str) -> PathBuf {
        self.instances_dir().join(slug).join(instance)
    }

    /// `<prefix>-<slug>` for a client's "main" instance, `<prefix>-<slug>--<name>`
    /// for others, so `docker ps` reads like the client list. Networks share it.
    /// `--` never occurs in a slug, so no two (client, instance) pairs share a
    /// name: with a single `-`, client `a` instance `b` and client `a-b` did.
    pub fn container_name(&self, slug: &str, instance: &str) -> String {
        if instance == "main" {
            format!("{}-{slug}", self.docker.name_prefix)
        } else {
            format!("{}-{slug}--{instance}", self.docker.name_prefix)
        }
    }

    /// The login configured for the registry `image` is pulled from, if any.
    pub fn registry_for(&self, image: &str) -> Option<&RegistryConfig> {
        let host = crate::domain::image_registry_host(image)?;
        self.registries.iter().find(|r| r.host == host)
    }

    /// restic's cache for offsite targets (berth's service user has no home cache).
    pub fn offsite_cache_dir(&self) -> PathBuf {
        self.data_dir.join("offsite-cache")
    }

    /// Instance `id`'s directory copy of its newest backup, which offsite
    /// copies read (`backup::mirror`); removed with the instance.
    pub fn instance_mirror_dir(&self, id: i64) -> PathBuf {
        self.data_dir.join("offsite-mirror").join(id.to_string())
    }

    pub fn offsite_target(&self, name: &str) -> Option<&OffsiteTarget> {
        self.offsite.iter().find(|t| t.name == name)
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.data_dir.join("reports")
    }

    /// `templates/` in the working directory when present, else the packaged copy.
    pub fn blueprint_dir(&self) -> PathBuf {
        match &self.blueprint_dir {
            Some(dir) => dir.clone(),
            None => default_blueprint_dir(Path::new(".")),
        }
    }
}

pub(super) fn default_blueprint_dir(cwd: &Path) -> PathBuf {
    let local = cwd.join("templates");
    if local.is_dir() {
        local
    } else {
        PathBuf::from("/usr/share/berth/templates")
    }
}
