//! Shared support for berth's integration tests: the real things (Caddy,
//! Docker) started and cleaned up per test, free ports, unique names and
//! deadline-bound waits.
//!
//! Included once, from `tests/it/main.rs`, so the whole suite links into one
//! test binary. Not every test uses every helper, hence the `dead_code` allow.
//!
//! - [`free_port`], [`unique`]: collision-free ports and names in one process.
//! - [`wait_until`], [`wait_until_async`]: poll with backoff against a deadline.
//! - [`http_get`], [`try_http_get`]: a tiny blocking HTTP/1.0 client, so a test
//!   can hit Caddy with any Host header.
//! - [`CaddyProcess`]: a private `caddy run` on loopback ports.
//! - [`delete_and_follow`]: a confirmed delete through the API, followed to its report.
//! - [`SmtpServer`]: a tiny SMTP listener that hands each received mail to the test.
//! - [`LlmFake`]: OpenRouter's and LiteLLM's key APIs on loopback, with
//!   injectable failures ([`Fault`]).
//! - [`Registry`]: Debian's docker-registry on loopback (optionally with
//!   basic auth) and pushes of busybox images to it.
//! - [`Sshd`], [`RestServer`]: restic repositories on loopback (sftp, REST).
//! - [`DockerGuard`]: removes a test's containers, networks, volumes and images.
//! - [`docker`], [`assert_absent`]: the docker CLI, failing loudly; absence
//!   proven by the engine's own "no such ..." answer.
//! - [`pool_networks`], [`wait_pool_full`]: the warm network pool in the engine.
//! - No opt-outs: a Docker or Caddy test never skips ([`refuse_skip_vars`]).
#![allow(dead_code, unused_imports)]

mod app;
mod caddy;
mod deletion;
mod docker;
mod http;
mod isolation;
mod llm_fake;
mod names;
mod offsite;
mod pool;
mod process;
mod registry;
mod smtp;
mod wait;

pub use app::{api_call, eventually, free_port_block, test_config, TestApp, PORTS_PER_APP};
pub use caddy::CaddyProcess;
pub use deletion::{delete_and_follow, follow_deletion};
pub use docker::{assert_absent, docker, refuse_skip_vars, skip_docker, DockerGuard};
pub use http::{http_get, try_http_get};
pub use isolation::{assert_unreachable, probe};
pub use llm_fake::{FakeKey, Fault, LlmFake};
pub use names::{free_port, unique};
pub use offsite::{copy_now, digests, is_root, largest_pack, write_mixed, RestServer, Sshd};
pub use pool::{free_pool_networks, pool_networks, wait_pool_full, PoolNetwork};
pub use process::{
    api_client, berth_cli, berth_cli_as, env_for, proc_status_field, BerthProcess, BerthServe,
    ChildSetup, ServiceUser,
};
pub use registry::{Registry, PASSWORD as REGISTRY_PASSWORD, USER as REGISTRY_USER};
pub use smtp::{Received, SmtpServer};
pub use wait::{wait_until, wait_until_async};
