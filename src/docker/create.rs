//! A [`ContainerSpec`] as the engine's create request: labels, limits,
//! the published port, the data mount and the health check.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, Mount, MountType, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};

use super::{labels, ContainerSpec};

pub(super) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let port = format!("{}/tcp", spec.internal_port);
    let labels = HashMap::from([
        (labels::MANAGED.to_string(), spec.owner.clone()),
        (labels::INSTANCE.to_string(), spec.instance_id.to_string()),
        (labels::CLIENT.to_string(), spec.client.clone()),
        (labels::SPEC_HASH.to_string(), spec.hash()),
    ]);
    let host_config = HostConfig {
        nano_cpus: Some(spec.nano_cpus),
        memory: Some(spec.memory),
        memory_reservation: spec.memory_reservation,
        pids_limit: Some(spec.pids_limit),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        }),
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        // Docker's default set (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...) is
        // more than most apps need: start from none, add back what the
        // blueprint names.
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        port_bindings: Some(HashMap::from([(
            port.clone(),
            Some(vec![PortBinding {
                host_ip: Some(spec.bind_address.to_string()),
                host_port: Some(spec.host_port.to_string()),
            }]),
        )])),
        // A typed mount instead of a "src:dst:rw" bind string: host paths
        // containing ':' would be split wrongly in the string form.
        mounts: Some(vec![Mount {
            target: Some(spec.data_mount.clone()),
            source: Some(spec.data_dir.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            read_only: Some(false),
            ..Default::default()
        }]),
        network_mode: Some(spec.network.clone()),
        // Reaps zombies and forwards signals for apps that do not expect to be PID 1.
        init: Some(true),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(
            spec.create_from
                .clone()
                .unwrap_or_else(|| spec.image.clone()),
        ),
        cmd: spec.command.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        exposed_ports: Some(vec![port]),
        labels: Some(labels),
        user: spec.user.clone(),
        healthcheck: spec.health.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(secs_to_ns(h.interval_s)),
            timeout: Some(secs_to_ns(h.timeout_s)),
            retries: Some(h.retries.into()),
            start_period: Some(secs_to_ns(h.start_period_s)),
            start_interval: None,
        }),
        host_config: Some(host_config),
        ..Default::default()
    }
}

fn secs_to_ns(s: u32) -> i64 {
    i64::from(s) * 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_carries_labels_limits_and_health() {
        let spec = super::super::spec::tests::sample();
        let body = create_body(&spec);
        let labels = body.labels.unwrap();
        assert_eq!(labels[labels::MANAGED], "berth");
        assert_eq!(labels[labels::INSTANCE], "1");
        assert_eq!(labels[labels::CLIENT], "acme");
        assert_eq!(labels[labels::SPEC_HASH], spec.hash());
        assert_eq!(body.exposed_ports.unwrap(), vec!["8080/tcp".to_string()]);
        let hc = body.healthcheck.unwrap();
        assert_eq!(hc.interval, Some(10_000_000_000));
        assert_eq!(hc.start_period, Some(5_000_000_000));
        let host = body.host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.network_mode.as_deref(), Some("berth-acme-main"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.cap_add, None);
        let mut with_caps = spec.clone();
        with_caps.cap_add = vec!["CHOWN".into()];
        let host = create_body(&with_caps).host_config.unwrap();
        assert_eq!(host.cap_add, Some(vec!["CHOWN".to_string()]));
        let binding = &host.port_bindings.unwrap()["8080/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("8001"));
    }
}
