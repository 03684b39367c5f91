//! The reconciler's counters as plain numbers at one moment: what `/metrics`
//! renders, without the renderer knowing the reconciler.

/// A snapshot of the reconciler's running totals since the daemon started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileCounts {
    pub passes: u64,
    pub errors: u64,
    pub actions: u64,
    pub caddy_loads: u64,
    pub caddy_errors: u64,
}
