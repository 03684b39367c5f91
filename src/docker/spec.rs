//! Everything that defines a container. Its hash is stored as a label; a
//! different hash means the reconciler recreates the container.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

// Field order is part of the hash: adding, removing or reordering a field
// changes every hash and so recreates every container on the next pass.
// `Debug` is written by hand below: the env holds secrets (LLM keys, admin
// passwords, app secret keys).
#[derive(Clone, PartialEq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// Overrides the image's CMD when `Some`.
    pub command: Option<Vec<String>>,
    /// Sorted by the caller so equal environments hash equally.
    pub env: Vec<(String, String)>,
    pub internal_port: u16,
    /// Host IP the port is published on (127.0.0.1 when Caddy fronts it).
    pub bind_address: IpAddr,
    pub host_port: u16,
    /// Host directory, bind-mounted; the caller creates it.
    #[serde(serialize_with = "lossy_path")]
    pub data_dir: PathBuf,
    pub data_mount: String,
    pub nano_cpus: i64,
    pub memory: i64,
    pub memory_reservation: Option<i64>,
    pub pids_limit: i64,
    pub health: Option<HealthSpec>,
    /// The instance's own bridge network, created before the container.
    pub network: String,
    /// Value of the MANAGED label.
    pub owner: String,
    pub instance_id: i64,
    pub client: String,
    /// e.g. "1000:1000"; `None` keeps the image default.
    pub user: Option<String>,
    /// Capabilities added back after dropping all of them, e.g. ["CHOWN"].
    pub cap_add: Vec<String>,
    /// The image ID to create from instead of `image` (the instance's
    /// desired image). Not hashed: the reference is, so pinning an ID
    /// recreates nothing, and a different ID is the planner's own rule.
    #[serde(skip)]
    pub create_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthSpec {
    /// e.g. `["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]`.
    pub test: Vec<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub retries: u32,
    pub start_period_s: u32,
}

impl std::fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ContainerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("command", &self.command)
            .field("env (names only)", &env)
            .field("internal_port", &self.internal_port)
            .field("host_port", &self.host_port)
            .field("data_dir", &self.data_dir)
            .field("network", &self.network)
            .field("instance_id", &self.instance_id)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl ContainerSpec {
    /// Hex sha256 of the spec's JSON form: deterministic because struct
    /// fields serialise in declaration order and there are no maps.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("ContainerSpec always serialises");
        hex::encode(Sha256::digest(&json))
    }
}

// serde_json refuses non-UTF-8 paths; hash() must never fail, and such a path
// would be rejected by the engine anyway.
fn lossy_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> ContainerSpec {
        ContainerSpec {
            name: "berth-acme-main".into(),
            image: "static-site:1".into(),
            command: None,
            env: vec![("A".into(), "1".into())],
            internal_port: 8080,
            bind_address: "127.0.0.1".parse().unwrap(),
            host_port: 8001,
            data_dir: "/var/lib/berth/data/1".into(),
            data_mount: "/www".into(),
            nano_cpus: 500_000_000,
            memory: 64 << 20,
            memory_reservation: None,
            pids_limit: 256,
            health: Some(HealthSpec {
                test: vec!["CMD".into(), "true".into()],
                interval_s: 10,
                timeout_s: 3,
                retries: 3,
                start_period_s: 5,
            }),
            network: "berth-acme-main".into(),
            owner: "berth".into(),
            instance_id: 1,
            client: "acme".into(),
            user: None,
            cap_add: vec![],
            create_from: None,
        }
    }

    #[test]
    fn debug_names_env_vars_without_their_values() {
        let mut spec = sample();
        spec.env = vec![("OPENAI_API_KEY".into(), "sk-or-v1-topsecret".into())];
        let shown = format!("{spec:?}");
        assert!(shown.contains("OPENAI_API_KEY"), "{shown}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }

    #[test]
    fn hash_is_stable_hex_sha256() {
        let h = sample().hash();
        assert_eq!(h, sample().hash());
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        // Pinned: a change here recreates every deployed container, so it
        // must be a deliberate one.
        assert_eq!(h, PINNED_SAMPLE_HASH);
    }

    const PINNED_SAMPLE_HASH: &str =
        "744ded1fb407b051fed9773a3c1d7e1024c3c9bda7c4939bddb8534a621ae944";

    #[test]
    fn hash_changes_with_every_field() {
        let base = sample().hash();
        type Mutation = (&'static str, fn(&mut ContainerSpec));
        let mutations: Vec<Mutation> = vec![
            ("name", |s| s.name.push('x')),
            ("image", |s| s.image.push('x')),
            ("command", |s| s.command = Some(vec!["sh".into()])),
            ("env", |s| s.env.push(("B".into(), "2".into()))),
            ("env value", |s| s.env[0].1 = "2".into()),
            ("internal_port", |s| s.internal_port += 1),
            ("bind_address", |s| {
                s.bind_address = "0.0.0.0".parse().unwrap()
            }),
            ("host_port", |s| s.host_port += 1),
            ("data_dir", |s| s.data_dir.push("x")),
            ("data_mount", |s| s.data_mount.push('x')),
            ("nano_cpus", |s| s.nano_cpus += 1),
            ("memory", |s| s.memory += 1),
            ("memory_reservation", |s| s.memory_reservation = Some(1)),
            ("pids_limit", |s| s.pids_limit += 1),
            ("health", |s| s.health = None),
            ("health.test", |s| {
                s.health.as_mut().unwrap().test.push("x".into())
            }),
            ("health.interval", |s| {
                s.health.as_mut().unwrap().interval_s += 1
            }),
            ("health.timeout", |s| {
                s.health.as_mut().unwrap().timeout_s += 1
            }),
            ("health.retries", |s| {
                s.health.as_mut().unwrap().retries += 1
            }),
            ("health.start", |s| {
                s.health.as_mut().unwrap().start_period_s += 1
            }),
            ("network", |s| s.network.push('x')),
            ("owner", |s| s.owner.push('x')),
            ("instance_id", |s| s.instance_id += 1),
            ("client", |s| s.client.push('x')),
            ("user", |s| s.user = Some("1000:1000".into())),
            ("cap_add", |s| s.cap_add.push("CHOWN".into())),
        ];
        let mut pinned = sample();
        pinned.create_from = Some("sha256:abc".into());
        assert_eq!(pinned.hash(), base, "the pinned image ID is not hashed");
        for (field, mutate) in mutations {
            let mut s = sample();
            mutate(&mut s);
            assert_ne!(s.hash(), base, "hash ignores {field}");
        }
    }
}
