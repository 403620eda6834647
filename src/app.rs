//! Wiring: builds clients and collectors from the config, starts the scheduler and the server.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::config::Config;
use crate::scheduler::{self, Job, Scheduled, Shared};
use crate::secret::Secret;
use crate::server::{self, Routes};
use crate::simulator::{DataMode, SimConfig, Simulator};
use crate::sobot::client::{Credentials, SobotClient};
use crate::sobot::collector::StatsCollector;
use crate::telemetry::Telemetry;

/// A failed cycle's samples stay this many intervals after the last success.
pub const KEEP_INTERVALS: u32 = 3;

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
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let address = listener.local_addr().unwrap_or(config.listen);
    let telemetry = Arc::new(Telemetry::new());

    // Demo mode: an embedded simulator with credentials of its own, kept alive until we return.
    let _simulator = if config.demo {
        let key = format!(
            "demo-{:x}",
            crate::simulator::mix(u64::from(std::process::id()))
        );
        let credentials = Credentials {
            app_id: "demo".to_string(),
            app_key: Secret::new(key),
        };
        let sim_config = SimConfig {
            data: DataMode::Live,
            ..SimConfig::fixtures(&credentials.app_id, credentials.app_key.expose())
        };
        let sim = Simulator::start(sim_config)
            .await
            .map_err(StartError::Simulator)?;
        info!(simulator = %sim.base_url(), "demo mode: collecting from the embedded simulator");
        config.sobot.base_url = sim.base_url();
        config.credentials = Some(credentials);
        Some(sim)
    } else {
        None
    };

    let shared = Shared::new(telemetry.clone());
    let mut jobs = Vec::new();
    if let Some(credentials) = config.credentials.clone() {
        let client = Arc::new(
            SobotClient::new(&config.sobot, credentials, telemetry.clone())
                .map_err(|e| StartError::Client(e.without_url().to_string()))?,
        );
        for &endpoint in &config.collectors {
            let collector = StatsCollector::new(
                endpoint,
                client.clone(),
                config.windows.clone(),
                config.tz.clone(),
                config.interval,
                telemetry.clone(),
            );
            jobs.push(Scheduled {
                job: Job::SobotStats(collector),
                interval: config.interval,
            });
        }
    }

    let first = shared.encode().map_err(|_| StartError::Encode)?;
    let (publish, exposition) = watch::channel(Arc::new(first));
    let (stop, stopped) = watch::channel(false);
    info!(
        %address,
        path = %config.telemetry_path,
        collectors = jobs.len(),
        interval_s = config.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    scheduler::spawn(jobs, &shared, KEEP_INTERVALS, publish, stopped);
    let routes = Routes {
        telemetry_path: config.telemetry_path.clone().into(),
        exposition,
    };
    server::serve(listener, routes, shutdown).await;
    let _ = stop.send(true);
    info!("stopped");
    Ok(())
}
