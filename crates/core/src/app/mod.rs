//! Wiring: the board, the shared clients, the target set with the configured company, the server,
//! and the reload (SIGHUP, `POST /-/reload`) that swaps the collection config under them.

pub mod backfill;
pub mod settings;
#[cfg(test)]
mod source_tests;

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{CollectionConfig, CollectorKind, ConfigError};
use crate::exposition::Board;
use crate::targets::{self, Shared, TargetSet};
use crate::telemetry::{CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, CONFIG_LAST_RELOAD_SUCCESSFUL, Telemetry};
use crate::web::{self, Routes};
use settings::Config;

/// Reads the collection config again: the flags as given at start, the config file and the
/// credential files as they are now (`config::load_collection`).
pub(crate) type Loader = Box<dyn Fn() -> Result<CollectionConfig, ConfigError> + Send + Sync>;

/// Why the exporter could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// A socket passed by systemd could not be used.
    #[error("--web.systemd-socket: {0}")]
    Systemd(std::io::Error),
}

/// Runs the exporter until `shutdown` resolves; `sockets`: the sockets systemd passed, listened
/// on instead of the listen addresses (`--web.systemd-socket`); `loader` reads the collection config again on a reload.
pub async fn run(
    config: Config,
    sockets: Option<Vec<std::net::TcpListener>>,
    loader: Loader,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let Config { process, collection } = config;
    web::conn::raise_fd_limit(process.limits.max_connections);
    let mut listeners = Vec::new();
    match sockets {
        Some(sockets) => {
            for socket in sockets {
                listeners.push(TcpListener::from_std(socket).map_err(StartError::Systemd)?);
            }
        }
        None => {
            for &addr in &process.listen {
                let listener =
                    TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
                listeners.push(listener);
            }
        }
    }
    let addresses: Vec<std::net::SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    let address = addresses.first().copied().unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
    let addresses_text = addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let web_config = process.web_config.clone();

    let board = Board::new();
    let process_telemetry = Arc::new(crate::telemetry::process_telemetry());
    let shared = Arc::new(
        Shared::new(board.clone(), &collection)
            .map_err(|e| StartError::Client(e.without_url().to_string()))?,
    );
    let names: Vec<String> = collection.collectors.iter().map(CollectorKind::name).collect();
    info!(
        version = crate::build_info::VERSION,
        revision = crate::build_info::REVISION,
        build_date = crate::build_info::BUILD_DATE,
        %address,
        addresses = %addresses_text,
        tls = web_config.as_ref().is_some_and(|w| w.tls()),
        web_config = web_config.as_ref().map(|w| w.path().display().to_string()),
        path = %process.telemetry_path,
        collectors = %names.join(","),
        interval_s = collection.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    if let Some(warning) = collection.platform.as_ref().and_then(crate::sources::platform::interval_warning) {
        warn!("{warning}");
    }
    let targets = Arc::new(TargetSet::new(shared.clone()));
    let (config_tx, config_rx) = watch::channel(Arc::new(collection));
    let reloader = Arc::new(Reloader {
        loader,
        config: config_tx,
        shared,
        telemetry: process_telemetry.clone(),
        web: web_config.clone(),
        lock: tokio::sync::Mutex::new(()),
    });
    reloader.loaded(true);
    let process_stats = Arc::new(crate::process::ProcessStats::new(&board));
    let routes = Routes {
        telemetry_path: process.telemetry_path.clone().into(),
        board,
        targets: targets.clone(),
        address,
        discovery: Arc::new(web::sd::Discovery::new(process.external_address.as_deref())),
        reloader: process.enable_lifecycle.then(|| reloader.clone() as Arc<dyn crate::web::Reload>),
        process: process_telemetry,
        process_stats,
        figures: crate::web::Figures::default(),
    };
    // The company and the platform now; tenants whenever discovery finds them; again on a reload.
    let follow = tokio::spawn(targets::follow(targets.clone(), config_rx, targets.discovered()));
    let hangup = tokio::spawn(reload_on_hangup(reloader));
    web::serve(listeners, routes, web_config, process.limits.clone(), shutdown).await;
    hangup.abort();
    follow.abort();
    targets.stop_all();
    info!("stopped");
    Ok(())
}

/// Reloads the collection config: the targets whose spec changed restart, the others keep running
/// (and their tokens); a config that does not load leaves the running one in force.
pub(crate) struct Reloader {
    loader: Loader,
    config: watch::Sender<Arc<CollectionConfig>>,
    shared: Arc<Shared>,
    /// The process-wide self-metrics: build info and the reload status.
    telemetry: Arc<Telemetry>,
    /// The web config the server runs behind (`--web.config.file`), read again on a reload.
    web: Option<Arc<crate::web::webconfig::WebConfig>>,
    /// One reload at a time.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Reloader {
    /// Reads the configuration again and applies it; `trigger` names what asked (for the log).
    /// Returns the one-line reason a new config was refused.
    pub(crate) async fn reload(&self, trigger: &str) -> Result<(), String> {
        let _one = self.lock.lock().await;
        let outcome = self.apply();
        match &outcome {
            Ok(changed) => info!(trigger, changed, "configuration reloaded"),
            Err(e) => error!(trigger, error = %e, "reload failed: the running configuration stays in force"),
        }
        self.loaded(outcome.is_ok());
        outcome.map(drop)
    }

    /// Loads the configuration and puts it in force; whether the collection config changed.
    fn apply(&self) -> Result<bool, String> {
        let collection = (self.loader)().map_err(|e| e.to_string())?;
        if let Some(warning) =
            collection.platform.as_ref().and_then(crate::sources::platform::interval_warning)
        {
            warn!("{warning}");
        }
        // The web config's one way to re-read (a bad one refuses the reload, and stays out).
        if let Some(web) = &self.web {
            web.reload(true)?;
        }
        self.shared
            .update_clients(&collection)
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(self.config.send_if_modified(|current| {
            let changed = **current != collection;
            if changed {
                *current = Arc::new(collection);
            }
            changed
        }))
    }

    /// Records the outcome of a load in the process's self-metrics (the server publishes them).
    fn loaded(&self, ok: bool) {
        self.telemetry.set(CONFIG_LAST_RELOAD_SUCCESSFUL, Vec::new(), f64::from(u8::from(ok)));
        if ok {
            let now = jiff::Timestamp::now().as_millisecond();
            #[allow(clippy::cast_precision_loss)]
            let now = now as f64 / 1000.0;
            self.telemetry.set(CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, Vec::new(), now);
        }
    }
}

/// Reloads on every SIGHUP.
impl crate::web::Reload for Reloader {
    fn reload<'a>(
        &'a self,
        trigger: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(Reloader::reload(self, trigger))
    }
}

async fn reload_on_hangup(reloader: Arc<Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            warn!("cannot listen for SIGHUP: reload with POST /-/reload (--web.enable-lifecycle)");
            return;
        };
        while hangups.recv().await.is_some() {
            // The outcome is logged and in the self-metrics.
            let _ = reloader.reload("SIGHUP").await;
        }
    }
    #[cfg(not(unix))]
    drop(reloader);
}
