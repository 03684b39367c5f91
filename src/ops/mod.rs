//! The operations every front end shares (web UI, JSON API, CLI).
//! Each one validates its input into domain types, writes desired state and
//! its audit entry in one transaction, and wakes the reconciler. None of them
//! talks to Docker or Caddy.

mod audit_log;
mod backup_admin;
mod backups;
mod clients;
mod delete;
mod instances;
mod overview;
mod plans;
mod tokens;
mod usage;
mod users;

use std::sync::Arc;

use tokio::sync::Notify;

pub use backup_admin::{BackupStatus, ImportReport, RestoreInput};
pub use backups::BackupTrigger;
pub use clients::{ClientEdit, ClientView, NewClientInput};
pub use delete::{DeletionReport, RemovedInstance};
pub use instances::{InstanceAction, InstanceEdit, NewInstanceInput};
pub use plans::{PlanEdit, PlanInput};
pub use usage::{
    window as usage_window, Capacity, ClientUsage, Consumer, HostUsage, InstanceUsage, Point,
};
pub use users::{check_password, check_user_name, LoginGate, THROTTLE_FAILURES, THROTTLE_WINDOW};

use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::DomainError;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Well-formed but not allowed right now (quota reached, wrong confirmation).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many recent attempts (the login throttle): 429.
    #[error("{0}")]
    Throttled(String),
    /// The daemon did not finish its part in time (e.g. removing containers).
    #[error("{0}")]
    Timeout(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Io(String),
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => OpsError::NotFound(m),
            StoreError::Conflict(m) => OpsError::Conflict(m),
            StoreError::Invalid(m) => OpsError::Refused(m),
            other => OpsError::Store(other),
        }
    }
}

impl OpsError {
    /// The refusal of a well-formed request, worded for the person who made
    /// it (a form shows it as a flash and stays put); `None` for every other
    /// failure, which the web edge turns into its status page.
    pub fn user_message(&self) -> Option<&str> {
        match self {
            Self::Refused(m) | Self::Conflict(m) => Some(m),
            _ => None,
        }
    }
}

/// Everything an operation needs; cheap to clone.
#[derive(Clone)]
pub struct Ops {
    pub store: Store,
    pub config: Arc<Config>,
    pub blueprints: Arc<Blueprints>,
    wake: Arc<Notify>,
    caches: Arc<overview::Caches>,
    login: Arc<users::LoginGate>,
}

impl Ops {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        blueprints: Arc<Blueprints>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            config,
            blueprints,
            wake,
            caches: Arc::default(),
            login: Arc::default(),
        }
    }

    /// The same operations with another login-throttle window (tests).
    pub fn with_login_window(mut self, window: std::time::Duration) -> Self {
        self.login = Arc::new(users::LoginGate::new(window));
        self
    }

    /// Tells the reconciler desired state changed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// Reads a referenced row (a plan named in a request body): a missing one is
/// bad input (422), not a missing URL (404).
pub(crate) fn referenced<T>(r: Result<T, StoreError>) -> Result<T, OpsError> {
    r.map_err(|e| match e {
        StoreError::NotFound(m) => OpsError::Refused(m),
        other => other.into(),
    })
}
