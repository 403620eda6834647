//! Wiring: the board, the shared clients, the target set with the configured company, the server.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::{CollectorKind, Config};
use crate::demo::Demo;
use crate::exposition::Board;
use crate::targets::{self, Shared, TargetSet};
use crate::web::{self, Routes};

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
    /// The demo simulator could not start.
    #[error("cannot start the demo simulator: {0}")]
    Simulator(std::io::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Runs the exporter until `shutdown` resolves; `demo`: the demo's simulator to start first.
pub async fn run(
    config: Config,
    demo: Option<Demo>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let Config { process, collection } = config;
    web::conn::raise_fd_limit(process.limits.max_connections);
    let listener = TcpListener::bind(process.listen)
        .await
        .map_err(|source| StartError::Listen { addr: process.listen, source })?;
    let address = listener.local_addr().unwrap_or(process.listen);

    // Demo mode: the embedded simulator, kept alive until we return.
    let _simulator = match demo {
        Some(demo) => Some(demo.start().await.map_err(StartError::Simulator)?),
        None => None,
    };

    let board = Board::new();
    let shared = Arc::new(
        Shared::new(board.clone(), &collection)
            .map_err(|e| StartError::Client(e.without_url().to_string()))?,
    );
    let names: Vec<String> = collection.collectors.iter().map(CollectorKind::name).collect();
    info!(
        %address,
        path = %process.telemetry_path,
        collectors = %names.join(","),
        interval_s = collection.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    let targets = Arc::new(TargetSet::new(shared));
    let routes = Routes {
        telemetry_path: process.telemetry_path.clone().into(),
        board,
        targets: targets.clone(),
        address,
    };
    // The company and the platform now; tenants whenever discovery finds them.
    let follow = tokio::spawn(targets::follow(targets.clone(), Arc::new(collection), targets.discovered()));
    web::serve(listener, routes, process.limits.clone(), shutdown).await;
    follow.abort();
    targets.stop_all();
    info!("stopped");
    Ok(())
}
