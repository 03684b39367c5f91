//! What the UI benchmarks share: berth's web server (routes, sessions, no
//! workers) on a loopback port in this process, stopped on demand.

use std::sync::Arc;

use anyhow::Result;
use berth::metrics::Live;
use berth::ops::Ops;
use berth::web::{self, AppState};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Served {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Serves the web UI and API on `ops`; `/metrics` shows `live`'s readings.
pub async fn serve_web(ops: Ops, live: Live) -> Result<Served> {
    let mut state = AppState::new(ops, Arc::default()).await?;
    state.live = live;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok(Served { base, stop, task })
}

impl Served {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
