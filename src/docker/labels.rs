//! Labels are the contract between berth and the engine: the reconciler finds
//! its containers and networks only through these keys, so they live in one
//! place and never change spelling.

/// Value is the owner string (config `[docker] owner`); several berths (or
/// test runs) can share one engine without touching each other's containers.
pub const MANAGED: &str = "berth.managed";
/// Instance id as a decimal string.
pub const INSTANCE: &str = "berth.instance";
/// Client slug, for humans reading `docker ps`.
pub const CLIENT: &str = "berth.client";
/// On networks made ahead of need for the warm pool; the value is the host
/// port it was made for (its subnet is that port's). A pool network carries
/// no INSTANCE label: which instance adopted it is recorded in the store,
/// since the engine cannot relabel a network.
pub const POOL: &str = "berth.pool";
/// Hash of the [`ContainerSpec`](super::ContainerSpec) the container was created from.
pub const SPEC_HASH: &str = "berth.spec-hash";

/// The engine-side filter value selecting everything one owner manages.
pub(crate) fn managed_filter(owner: &str) -> String {
    format!("{MANAGED}={owner}")
}
