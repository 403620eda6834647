//! Wiring: builds clients and collectors from the config, starts the scheduler and the server.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::config::CollectorKind;
use crate::config::Config;
use crate::laaffic::client::{LaafficClient, LaafficCredentials};
use crate::laaffic::seats::SeatCollector;
use crate::scheduler::{self, Job, Scheduled, Shared};
use crate::secret::Secret;
use crate::server::{self, Routes};
use crate::simulator::{DataMode, SimConfig, Simulator};
use crate::sobot::client::{Credentials, SobotClient};
use crate::sobot::collector::{Context, Scope, StatsCollector};
use crate::sobot::endpoints::Rows;
use crate::sobot::quality::{PageSettings, QualityCollector};
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
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let address = listener.local_addr().unwrap_or(config.listen);
    let telemetry = Arc::new(Telemetry::new());

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

    let shared = Shared::new(telemetry.clone());
    let mut jobs = Vec::new();
    if let Some(credentials) = config.credentials.clone() {
        let client = Arc::new(
            SobotClient::new(&config.sobot, credentials, telemetry.clone())
                .map_err(|e| StartError::Client(e.without_url().to_string()))?,
        );
        let ctx = Context {
            client,
            windows: config.windows.clone(),
            tz: config.tz.clone(),
            interval: config.interval,
            telemetry: telemetry.clone(),
        };
        jobs.extend(config.collectors.iter().filter_map(|kind| sobot_job(*kind, &config, &ctx)));
    }
    if let Some(credentials) = config.laaffic_credentials.clone()
        && config.collectors.iter().any(|k| matches!(k, CollectorKind::LaafficSeats))
    {
        let client = Arc::new(
            LaafficClient::new(&config.laaffic, credentials, telemetry.clone())
                .map_err(|e| StartError::Client(e.without_url().to_string()))?,
        );
        let collector = SeatCollector::new(
            client,
            config.windows.clone(),
            config.tz.clone(),
            config.interval,
            config.max_agents,
            telemetry.clone(),
        );
        jobs.push(Scheduled { job: Job::LaafficSeats(collector), interval: config.interval });
    }

    let first = shared.encode().map_err(|_| StartError::Encode)?;
    let (publish, exposition) = watch::channel(Arc::new(first));
    let (stop, stopped) = watch::channel(false);
    let names: Vec<String> = jobs.iter().map(|j| j.job.name()).collect();
    info!(
        %address,
        path = %config.telemetry_path,
        collectors = %names.join(","),
        interval_s = config.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    scheduler::spawn(jobs, &shared, KEEP_INTERVALS, publish, stopped);
    let routes = Routes { telemetry_path: config.telemetry_path.clone().into(), exposition };
    server::serve(listener, routes, shutdown).await;
    let _ = stop.send(true);
    info!("stopped");
    Ok(())
}

/// The scheduled job of one configured Sobot collector; `None` for the Laaffic one.
fn sobot_job(kind: CollectorKind, config: &Config, ctx: &Context) -> Option<Scheduled> {
    Some(match kind {
        CollectorKind::LaafficSeats => return None,
        CollectorKind::Stats(endpoint) => {
            let scope = match endpoint.rows {
                Rows::Item => Scope::Company,
                // Agents take precedence over groups, as human_duration's document says for both.
                Rows::Items(_) => Scope::PerAgent {
                    filter: if !config.agents.is_empty() {
                        Some(("serviceids", config.agents.clone()))
                    } else if !config.groups.is_empty() {
                        Some(("groupids", config.groups.clone()))
                    } else {
                        None
                    },
                    max_agents: config.max_agents,
                },
            };
            let job = Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone()));
            Scheduled { job, interval: config.interval }
        }
        CollectorKind::Group(endpoint) => {
            let scope = Scope::PerGroup(config.groups.clone());
            let job = Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone()));
            Scheduled { job, interval: config.interval }
        }
        CollectorKind::Quality(source) => {
            let ctx = Context { interval: config.quality_interval, ..ctx.clone() };
            let pages = PageSettings {
                page_size: config.quality_page_size,
                max_pages: config.quality_max_pages,
                max_agents: config.max_agents,
            };
            let job = Job::Quality(QualityCollector::new(source, ctx, pages));
            Scheduled { job, interval: config.quality_interval }
        }
    })
}
