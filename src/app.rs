//! Wires the long-running parts together: web server, reconciler, backup
//! worker, rollout worker, offsite worker, usage sampler, LLM key worker and (when asked) a
//! supervised Caddy. Each part is `run(.., shutdown)`; `App::run`
//! starts them, waits for the shutdown signal and logs how each one ended.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::caddy::{self, CaddyAdmin};
use crate::config::Config;
use crate::docker::Docker;
use crate::housekeeping::Housekeeping;
use crate::metrics::{Live, Sampler};
use crate::ops::{Ops, Shared};
use crate::reconcile::{desired, Reconciler};
use crate::store::{instances, Store};
use crate::web::{self, AppState};

pub struct App {
    config: Arc<Config>,
    ops: Ops,
    /// The workers' handle on the store (tests and benches inspect it too).
    store: Store,
    reconciler: Reconciler,
    sampler: Option<Sampler>,
    live: Live,
    caddy: CaddyAdmin,
    backups: crate::backup::Runner,
    rollouts: crate::rollout::RolloutWorker,
    offsite: crate::offsite::Worker,
    /// None when `[llm]` names no provider.
    llm: Option<crate::llm::KeyWorker>,
    listener: TcpListener,
}

impl App {
    /// Opens the store, loads blueprints, connects to Docker and binds the
    /// web listener; fails with a message naming what is missing.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let ops = Ops::open(&config)?;
        // The workers get their own handles on what the operations run on:
        // the same store (one writer), blueprints and reconciler wake-up.
        let Shared {
            store,
            config,
            blueprints,
            wake,
            llm_wake,
            rollout_wake,
        } = ops.shared();
        let docker = Docker::connect(&config.docker.socket, &config.docker.owner)
            .await?
            .with_logins(crate::updates::registry_logins(&config));
        // The portal's log view reads through the operations' own handle.
        let ops = ops.with_docker(docker.clone());
        let caddy = CaddyAdmin::new(&config.caddy.admin)?;
        let backups = crate::backup::Runner::new(
            store.clone(),
            config.clone(),
            blueprints.clone(),
            docker.clone(),
            wake.clone(),
        );
        let offsite = crate::offsite::Worker::new(store.clone(), config.clone());
        let llm = crate::llm::KeyWorker::from_config(
            store.clone(),
            config.clone(),
            llm_wake.clone(),
            wake.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        let rollouts = crate::rollout::RolloutWorker::new(
            store.clone(),
            config.clone(),
            docker.clone(),
            wake.clone(),
            rollout_wake,
        );
        let live = Live::default();
        let sampler = config
            .metrics
            .enabled
            .then(|| Sampler::new(store.clone(), config.clone(), docker.clone(), live.clone()));
        let reconciler = Reconciler::new(
            store.clone(),
            config.clone(),
            blueprints,
            docker,
            caddy.clone(),
            wake,
        )
        .with_llm_wake(llm_wake);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        Ok(Self {
            config,
            ops,
            store,
            reconciler,
            sampler,
            live,
            caddy,
            backups,
            rollouts,
            offsite,
            llm,
            listener,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn ops(&self) -> &Ops {
        &self.ops
    }

    /// The store the daemon runs on, for tests and benches that inspect or
    /// seed rows no operation exposes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };

        let caddy_status = caddy::CaddyStatus::default();
        let managed_caddy = if self.config.caddy.manage && !self.caddy.is_up().await {
            let rows = self.store.call(|conn| instances::list_all(conn)).await?;
            let bootstrap = caddy::generate(
                &desired::caddy_settings(&self.config),
                &desired::routes(&rows, &self.config),
            );
            let (bin, admin, dir) = (
                self.config.caddy.bin.clone(),
                self.caddy.clone(),
                self.config.data_dir.join("caddy"),
            );
            tracing::info!(admin = %self.config.caddy.admin, "no Caddy answering; starting one");
            let mut opts = caddy::ManagedOptions::new(bin, admin, bootstrap, dir);
            opts.status = caddy_status.clone();
            Some(tokio::spawn(caddy::run_managed_with(
                opts,
                stopped(stop_rx.clone()),
            )))
        } else {
            None
        };

        tracing::info!(listen = %self.local_addr(), "berth serving");
        let mut state = AppState::new(self.ops.clone(), self.reconciler.stats.clone()).await?;
        state.live = self.live.clone();
        state.caddy = caddy_status;
        if self.ops.user_count().await? == 0 {
            tracing::warn!(
                setup_code = %state.ui.setup_code,
                "no admin account yet: open /setup in a browser on this machine, or elsewhere with this setup code (or run `berth user create NAME`)"
            );
        }
        let housekeeping = tokio::spawn(
            Housekeeping {
                store: self.store.clone(),
                audit_retention: self.config.audit.retention,
                login_window: self.ops.login_gate().window(),
                sessions: vec![state.ui.sessions.clone(), state.ui.portal_sessions.clone()],
            }
            .run(stopped(stop_rx.clone())),
        );
        let web = tokio::spawn(web::serve(self.listener, state, stopped(stop_rx.clone())));
        let reconciler = tokio::spawn(self.reconciler.run(stopped(stop_rx.clone())));
        let backups = tokio::spawn(self.backups.run(stopped(stop_rx.clone())));
        let rollouts = tokio::spawn(self.rollouts.run(stopped(stop_rx.clone())));
        let offsite = tokio::spawn(self.offsite.run(stopped(stop_rx.clone())));
        let sampler = self
            .sampler
            .map(|s| tokio::spawn(s.run(stopped(stop_rx.clone()))));
        let llm = self
            .llm
            .map(|w| tokio::spawn(w.run(stopped(stop_rx.clone()))));

        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        match web.await {
            Ok(Ok(())) => tracing::info!("web server stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "web server failed"),
            Err(e) => tracing::error!(error = %e, "web server task panicked"),
        }
        if let Err(e) = housekeeping.await {
            tracing::error!(error = %e, "housekeeping task panicked");
        }
        if let Err(e) = reconciler.await {
            tracing::error!(error = %e, "reconciler task panicked");
        }
        if let Err(e) = backups.await {
            tracing::error!(error = %e, "backup worker task panicked");
        }
        if let Err(e) = rollouts.await {
            tracing::error!(error = %e, "rollout worker task panicked");
        }
        if let Err(e) = offsite.await {
            tracing::error!(error = %e, "offsite worker task panicked");
        }
        if let Some(Err(e)) = match sampler {
            Some(task) => Some(task.await),
            None => None,
        } {
            tracing::error!(error = %e, "usage sampler task panicked");
        }
        if let Some(Err(e)) = match llm {
            Some(task) => Some(task.await),
            None => None,
        } {
            tracing::error!(error = %e, "llm key worker task panicked");
        }
        if let Some(task) = managed_caddy {
            match task.await {
                Ok(Ok(())) => tracing::info!("managed caddy stopped"),
                Ok(Err(e)) => tracing::error!(error = %e, "managed caddy failed"),
                Err(e) => tracing::error!(error = %e, "managed caddy task panicked"),
            }
        }
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM (systemd's stop).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
