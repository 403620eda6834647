//! Wiring: builds clients and collectors from the config, starts the scheduler and the server.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::{CollectorKind, Config};
use crate::exposition::{Board, Chunk, Key, Published};
use crate::laaffic::client::LaafficCredentials;
use crate::secret::Secret;
use crate::server::{self, Routes};
use crate::simulator::{DataMode, SimConfig, Simulator};
use crate::sobot::client::Credentials;
use crate::targets::{Shared, TargetSet, TargetSpec};

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
    /// The first exposition could not be encoded.
    #[error("cannot encode metrics")]
    Encode,
}

/// Runs the exporter until `shutdown` resolves.
pub async fn run(mut config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let address = listener.local_addr().unwrap_or(config.listen);

    // Demo mode: an embedded simulator with credentials of its own, kept alive until we return.
    let _simulator = if config.demo {
        let key = format!("demo-{:x}", crate::simulator::mix(u64::from(std::process::id())));
        let laaffic = LaafficCredentials {
            api_key: Secret::new("demo-laaffic"),
            api_secret: Secret::new(format!("{key}-laaffic")),
        };
        let credentials = Credentials { app_id: "demo".to_string(), app_key: Secret::new(key) };
        let sim_config = SimConfig {
            data: DataMode::Live,
            agents: crate::simulator::demo_population(),
            quality_records: 180,
            laaffic_seats: 24,
            laaffic_api_key: laaffic.api_key.clone(),
            laaffic_api_secret: laaffic.api_secret.clone(),
            ..SimConfig::fixtures(&credentials.app_id, credentials.app_key.expose())
        };
        let sim = Simulator::start(sim_config).await.map_err(StartError::Simulator)?;
        info!(simulator = %sim.base_url(), "demo mode: collecting from the embedded simulator");
        config.sobot.base_url = sim.base_url();
        config.laaffic.base_url = sim.base_url();
        config.credentials = Some(credentials);
        config.laaffic_credentials = Some(laaffic);
        Some(sim)
    } else {
        None
    };

    let board = Board::new();
    let process = board.publisher(Key::Process, &Vec::new());
    let own = Chunk::encode(vec![Arc::new(crate::telemetry::process_families())])
        .map_err(|_| StartError::Encode)?;
    process.publish(Published::new(vec![Arc::new(own)]));
    let shared = Arc::new(
        Shared::new(board.clone(), &config).map_err(|e| StartError::Client(e.without_url().to_string()))?,
    );
    let names: Vec<String> = config.collectors.iter().map(CollectorKind::name).collect();
    info!(
        %address,
        path = %config.telemetry_path,
        collectors = %names.join(","),
        interval_s = config.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    let routes = Routes { telemetry_path: config.telemetry_path.clone().into(), board };
    let targets = TargetSet::new(shared);
    targets.reconcile(vec![TargetSpec::company(Arc::new(config))]);
    server::serve(listener, routes, shutdown).await;
    targets.stop_all();
    info!("stopped");
    Ok(())
}
