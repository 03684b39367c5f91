//! The operations every front end shares (web UI, JSON API, CLI).
//! Each one validates its input into domain types, writes desired state and
//! its audit entry in one transaction, and wakes the reconciler. None of them
//! talks to Docker or Caddy.

mod audit_log;
mod backup_admin;
mod backups;
mod client_users;
mod clients;
mod delete;
mod export;
mod handover;
mod instances;
mod llm;
mod llm_views;
mod offsite;
mod offsite_maintenance;
mod offsite_restore;
mod overview;
mod plans;
mod portal;
mod portal_auth;
mod portal_data;
mod portal_logs;
mod portal_requests;
#[cfg(test)]
mod portal_tests;
mod requests;
mod rollout_points;
mod rollout_views;
mod rollouts;
#[cfg(test)]
mod rollouts_tests;
mod tokens;
mod updates;
mod usage;
mod users;
mod views;

use std::sync::Arc;

use tokio::sync::Notify;

pub use crate::domain::{DeletionReport, DeletionStatus, RemovedInstance};
pub use backup_admin::{BackupHealth, ImportReport, RestoreInput};
pub use client_users::{Invitation, NewClientUserInput};
pub use clients::{ClientEdit, ClientView, NewClientInput};
pub use delete::DeletionJob;
pub use export::{ClientExport, ExportBundle, EXPORT_SCHEMA, SECRET};
pub use handover::{AdminAccountView, AdminCredentials};
pub use instances::{InstanceAction, InstanceEdit, NewInstanceInput};
pub use llm::{LlmBudgetInput, PlanLlmInput};
pub use llm_views::{KeySummary, LlmKeyView, LlmOverview, LlmUsage, Spender};
pub use offsite::OffsiteStatus;
pub use offsite_maintenance::RunOptions;
pub use offsite_restore::{
    OffsiteCloneInput, OffsiteRestoreInput, OffsiteRestoreProgress, OffsiteRestoreStage,
    TargetSnapshots,
};
pub use overview::BackupSummary;
pub use plans::{PlanEdit, PlanInput};
pub use portal::{PortalHome, PortalInstance, PortalPlan};
pub use portal_auth::{hash_link_token, new_link_token, LinkCheck, INVITE_VALID, RESET_VALID};
pub use portal_data::{ActivityEntry, ActivityPage, InstanceBackups, PortalBackup, PortalBackups};
pub use portal_logs::{LogTail, LOG_LINES, MAX_TAIL};
pub use portal_requests::{PortalRequest, RequestOptions};
pub use requests::{RequestFilter, RequestInput, Requester};
pub use rollout_points::{InstanceRollout, RolloutCandidate};
pub use rollouts::{RolloutInput, RolloutStepView, RolloutView, ROLLOUT_LIST_LIMIT};
pub use updates::{BlueprintImage, CheckInput, CheckView, UpdateReport};
pub use usage::{
    window as usage_window, Capacity, ClientUsage, Consumer, HostUsage, InstanceUsage, Point,
};
pub use users::{check_password, check_user_name, LoginGate, THROTTLE_FAILURES, THROTTLE_WINDOW};
pub use views::{views, BackupView, InstanceView};

use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::DomainError;
use crate::store::{Conn, Store, StoreError};

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

/// Everything an operation needs; cheap to clone. The fields are private:
/// front ends call operations, and workers get their own handles (see
/// [`Ops::shared`]), so every change of desired state goes through here.
#[derive(Clone)]
pub struct Ops {
    store: Store,
    config: Arc<Config>,
    blueprints: Arc<Blueprints>,
    wake: Arc<Notify>,
    /// The LLM key worker's wake-up: a `Notify` wakes one waiter, and the
    /// key worker waits beside the reconciler, not behind it.
    llm_wake: Arc<Notify>,
    /// The rollout worker's wake-up, for the same reason.
    rollout_wake: Arc<Notify>,
    caches: Arc<overview::Caches>,
    login: Arc<users::LoginGate>,
    /// For reading instances' logs ([`Ops::portal_logs`]); absent in the CLI, which connects when it reads logs.
    docker: Option<crate::docker::Docker>,
}

/// The handles the operations run on, for wiring the workers of the same
/// process (`app.rs`, the CLI's in-process backup runner): they share the
/// store's one writer and the reconciler's wake-up. Front ends never use it.
#[derive(Clone)]
pub struct Shared {
    pub store: Store,
    pub config: Arc<Config>,
    pub blueprints: Arc<Blueprints>,
    pub wake: Arc<Notify>,
    pub llm_wake: Arc<Notify>,
    pub rollout_wake: Arc<Notify>,
}

impl Ops {
    /// Opens the store and loads the blueprints `config` names: the one
    /// wiring of the daemon, the CLI and the benches. A blueprint directory
    /// that does not load is bad configuration ([`OpsError::Refused`]); a
    /// database that does not open is [`OpsError::Io`].
    pub fn open(config: &Config) -> Result<Ops, OpsError> {
        let db = config.db_path();
        let store =
            Store::open(&db).map_err(|e| OpsError::Io(format!("opening {}: {e}", db.display())))?;
        let blueprints = Blueprints::load_dir(&config.blueprint_dir())
            .map_err(|e| OpsError::Refused(e.to_string()))?;
        Ok(Self::new(
            store,
            Arc::new(config.clone()),
            Arc::new(blueprints),
            Arc::default(),
        ))
    }

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
            llm_wake: Arc::default(),
            rollout_wake: Arc::default(),
            caches: Arc::default(),
            login: Arc::default(),
            docker: None,
        }
    }

    /// The same operations able to read instances' logs (the daemon's).
    pub fn with_docker(mut self, docker: crate::docker::Docker) -> Self {
        self.docker = Some(docker);
        self
    }

    /// The same operations with another login-throttle window (tests).
    pub fn with_login_window(mut self, window: std::time::Duration) -> Self {
        self.login = Arc::new(users::LoginGate::new(window));
        self
    }

    /// Tells the reconciler desired state changed.
    pub fn wake(&self) {
        self.wake.notify_one();
        self.llm_wake.notify_one();
    }

    /// The configuration, read-only, for what a front end presents (base
    /// domain, policy defaults, URLs); changes go through operations.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The blueprints a new instance can use: (name, description), for
    /// form choices.
    pub fn blueprint_choices(&self) -> Vec<(String, String)> {
        self.blueprints
            .names()
            .map(|n| {
                let about = self.blueprints.get(n).map(|b| b.description.clone());
                (n.to_owned(), about.unwrap_or_default())
            })
            .collect()
    }

    /// Blueprints whose instances get an admin account at their first start.
    pub fn blueprints_with_admin(&self) -> Vec<String> {
        self.blueprints
            .names()
            .filter(|n| self.blueprints.get(n).is_some_and(|b| b.admin.is_some()))
            .map(str::to_owned)
            .collect()
    }

    /// The blueprint a new instance gets when none is named.
    pub fn default_blueprint(&self) -> Option<&str> {
        self.blueprints.default_name()
    }

    /// The handles behind these operations, for wiring workers; see [`Shared`].
    pub fn shared(&self) -> Shared {
        Shared {
            store: self.store.clone(),
            config: self.config.clone(),
            blueprints: self.blueprints.clone(),
            wake: self.wake.clone(),
            llm_wake: self.llm_wake.clone(),
            rollout_wake: self.rollout_wake.clone(),
        }
    }
}

impl Ops {
    /// Runs `f` in one immediate transaction ([`Store::write`]) that speaks
    /// `OpsError`: a refusal inside it rolls the change back and reaches the
    /// caller as itself.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn) -> Result<T, OpsError> + Send + 'static,
    ) -> Result<T, OpsError> {
        self.store.write(f).await
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
