//! Container lifecycle: list what exists, create from a spec, start, stop,
//! remove, inspect, exec.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::client::{classify, status_code};
use super::create::create_body;
use super::{labels, ContainerSpec, Docker, DockerError};

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub instance_id: Option<i64>,
    pub spec_hash: Option<String>,
    pub state: ContainerState,
    pub health: Option<Health>,
    /// Parsed from "Exited (137) ..."; `None` unless exited.
    pub exit_code: Option<i64>,
    /// Always false from `list_managed`: the list endpoint does not carry it;
    /// use [`Docker::inspect_limits`] when it matters.
    pub oom_killed: bool,
    /// The engine's ID of the image it was created from ("sha256:…").
    pub image_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

/// What the engine actually applied, for tests and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedLimits {
    pub nano_cpus: i64,
    pub memory: i64,
    /// `None` when unset (the engine reports 0).
    pub memory_reservation: Option<i64>,
    /// `None` when unlimited (the engine reports null, 0 or -1).
    pub pids_limit: Option<i64>,
    pub restart_policy: String,
    pub security_opt: Vec<String>,
    pub port_bindings: Vec<PublishedPort>,
    /// Network name → the container's IP on it (`None` while not running).
    pub networks: Vec<(String, Option<IpAddr>)>,
    pub running: bool,
    pub oom_killed: bool,
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// e.g. "8080/tcp".
    pub container_port: String,
    pub host_ip: String,
    pub host_port: u16,
}

impl Docker {
    /// Every container labelled MANAGED=<owner>, in any state. Health comes
    /// from the list's Status text so one call covers all containers.
    pub async fn list_managed(&self) -> Result<Vec<ObservedContainer>, DockerError> {
        let filters = HashMap::from([("label", vec![labels::managed_filter(&self.owner)])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self.inner.list_containers(Some(opts)).await?;
        Ok(list.into_iter().map(observe).collect())
    }

    /// Creates (never starts) the container described by `spec`. A container
    /// with the same name gives [`DockerError::Conflict`]; the caller removes
    /// it and retries.
    pub async fn create(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        // symlink_metadata: a link in the data dir's place must not be bind-mounted.
        if !std::fs::symlink_metadata(&spec.data_dir).is_ok_and(|m| m.is_dir()) {
            return Err(DockerError::MissingDataDir(spec.data_dir.clone()));
        }
        let opts = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let created = self
            .inner
            .create_container(Some(opts), create_body(spec))
            .await
            .map_err(|e| match status_code(&e) {
                Some(409) => DockerError::Conflict(format!("container {}", spec.name)),
                Some(404) => DockerError::NotFound(format!("image {}", spec.image)),
                _ => DockerError::Api(e),
            })?;
        Ok(created.id)
    }

    /// Already running is fine (the engine answers 304).
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .start_container(id, None)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))
    }

    /// Already stopped or gone is fine: the goal is "not running".
    pub async fn stop(&self, id: &str, timeout_s: i64) -> Result<(), DockerError> {
        let t = i32::try_from(timeout_s.max(0)).unwrap_or(i32::MAX);
        // The engine answers only after the grace period, so the HTTP request
        // must be allowed to outlive it.
        let mut client = self.inner.clone();
        let wait = std::time::Duration::from_secs(timeout_s.max(0) as u64 + 60);
        if wait > client.timeout() {
            client.set_timeout(wait);
        }
        let opts = StopContainerOptionsBuilder::new().t(t).build();
        match client.stop_container(id, Some(opts)).await {
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            r => r.map_err(DockerError::from),
        }
    }

    /// Force-removes the container and its anonymous volumes; gone is fine.
    pub async fn remove(&self, id: &str) -> Result<(), DockerError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.inner.remove_container(id, Some(opts)).await {
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            // A concurrent removal of the same container ends the same way.
            Err(e) if status_code(&e) == Some(409) && e.to_string().contains("in progress") => {
                Ok(())
            }
            r => r.map_err(DockerError::from),
        }
    }

    pub async fn inspect_limits(&self, id: &str) -> Result<InspectedLimits, DockerError> {
        let c = self
            .inner
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))?;
        let hc = c.host_config.unwrap_or_default();
        let state = c.state.unwrap_or_default();
        let mut port_bindings: Vec<PublishedPort> = hc
            .port_bindings
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(port, bindings)| {
                bindings
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |b| PublishedPort {
                        container_port: port.clone(),
                        host_ip: b.host_ip.unwrap_or_default(),
                        host_port: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
                    })
            })
            .collect();
        port_bindings.sort_by(|a, b| a.container_port.cmp(&b.container_port));
        let mut networks: Vec<(String, Option<IpAddr>)> = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, ep)| (name, ep.ip_address.and_then(|ip| ip.parse().ok())))
            .collect();
        networks.sort();
        Ok(InspectedLimits {
            nano_cpus: hc.nano_cpus.unwrap_or(0),
            memory: hc.memory.unwrap_or(0),
            memory_reservation: hc.memory_reservation.filter(|m| *m > 0),
            pids_limit: hc.pids_limit.filter(|p| *p > 0),
            restart_policy: hc
                .restart_policy
                .and_then(|r| r.name)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            security_opt: hc.security_opt.unwrap_or_default(),
            port_bindings,
            networks,
            running: state.running.unwrap_or(false),
            oom_killed: state.oom_killed.unwrap_or(false),
            exit_code: state.exit_code,
        })
    }

    /// Runs `cmd` in the running container and waits for it; returns its exit
    /// code and stdout+stderr interleaved as received. No time limit: wrap in
    /// `tokio::time::timeout` when the command might hang.
    pub async fn exec(&self, id: &str, cmd: &[&str]) -> Result<(i64, String), DockerError> {
        let config = CreateExecOptions {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .inner
            .create_exec(id, config)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))?;
        let mut out = Vec::new();
        if let StartExecResults::Attached { mut output, .. } =
            self.inner.start_exec(&exec.id, None).await?
        {
            while let Some(chunk) = output.next().await {
                match chunk? {
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message } => out.extend_from_slice(&message),
                    LogOutput::StdIn { .. } => {}
                }
            }
        }
        let inspected = self.inner.inspect_exec(&exec.id).await?;
        let code = inspected.exit_code.unwrap_or(-1);
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }
}

fn observe(c: ContainerSummary) -> ObservedContainer {
    let labels = c.labels.unwrap_or_default();
    let status = c.status.unwrap_or_default();
    let state = match c.state {
        Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Other,
    };
    ObservedContainer {
        image_id: c.image_id.clone(),
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        instance_id: labels.get(labels::INSTANCE).and_then(|v| v.parse().ok()),
        spec_hash: labels.get(labels::SPEC_HASH).cloned(),
        state,
        health: parse_health(&status),
        exit_code: if state == ContainerState::Exited {
            parse_exit_code(&status)
        } else {
            None
        },
        oom_killed: false,
    }
}

/// API 1.41 has no Health field in the list, only Status text such as
/// "Up 3 minutes (healthy)".
pub(super) fn parse_health(status: &str) -> Option<Health> {
    if status.contains("(healthy)") {
        Some(Health::Healthy)
    } else if status.contains("(unhealthy)") {
        Some(Health::Unhealthy)
    } else if status.contains("(health: starting)") {
        Some(Health::Starting)
    } else {
        None
    }
}

/// "Exited (137) 5 seconds ago" → 137.
pub(super) fn parse_exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest[..rest.find(')')?].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_from_status_text() {
        assert_eq!(
            parse_health("Up 3 minutes (healthy)"),
            Some(Health::Healthy)
        );
        assert_eq!(
            parse_health("Up 1 second (health: starting)"),
            Some(Health::Starting)
        );
        assert_eq!(
            parse_health("Up 2 hours (unhealthy)"),
            Some(Health::Unhealthy)
        );
        assert_eq!(parse_health("Up 2 hours"), None);
        assert_eq!(parse_health("Up 2 hours (Paused)"), None);
        assert_eq!(parse_health("Exited (0) 3 seconds ago"), None);
        assert_eq!(parse_health("Created"), None);
        assert_eq!(parse_health(""), None);
    }

    #[test]
    fn exit_code_from_status_text() {
        assert_eq!(parse_exit_code("Exited (137) 5 seconds ago"), Some(137));
        assert_eq!(parse_exit_code("Exited (0) About a minute ago"), Some(0));
        assert_eq!(parse_exit_code("Exited (-1) 1 second ago"), Some(-1));
        assert_eq!(parse_exit_code("Up 3 minutes"), None);
        assert_eq!(parse_exit_code("Exited (x"), None);
    }
}
