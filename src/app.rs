//! Wiring: builds clients and collectors from the config, starts the scheduler and the server.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::config::CollectorKind;
use crate::config::Config;
use crate::demo::Demo;
use crate::laaffic::client::LaafficClient;
use crate::laaffic::seats::SeatCollector;
use crate::scheduler::{self, Job, Scheduled, Shared};
use crate::server::{self, Routes};
use crate::sobot::client::SobotClient;
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

/// Runs the exporter until `shutdown` resolves; `demo`: the demo's simulator to start first.
pub async fn run(
    config: Config,
    demo: Option<Demo>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let listener = TcpListener::bind(config.process.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.process.listen, source })?;
    let address = listener.local_addr().unwrap_or(config.process.listen);
    let telemetry = Arc::new(Telemetry::new());

    // Demo mode: the embedded simulator, kept alive until we return.
    let _simulator = match demo {
        Some(demo) => Some(demo.start().await.map_err(StartError::Simulator)?),
        None => None,
    };

    let shared = Shared::new(telemetry.clone());
    let mut jobs = Vec::new();
    if let Some(credentials) = config.collection.credentials.clone() {
        let client = Arc::new(
            SobotClient::new(&config.collection.sobot, credentials, telemetry.clone())
                .map_err(|e| StartError::Client(e.without_url().to_string()))?,
        );
        let ctx = Context {
            client,
            windows: config.collection.windows.clone(),
            tz: config.collection.tz.clone(),
            interval: config.collection.interval,
            telemetry: telemetry.clone(),
        };
        jobs.extend(config.collection.collectors.iter().filter_map(|kind| sobot_job(*kind, &config, &ctx)));
    }
    if let Some(credentials) = config.collection.laaffic_credentials.clone()
        && config.collection.collectors.iter().any(|k| matches!(k, CollectorKind::LaafficSeats))
    {
        let client = Arc::new(
            LaafficClient::new(&config.collection.laaffic, credentials, telemetry.clone())
                .map_err(|e| StartError::Client(e.without_url().to_string()))?,
        );
        let collector = SeatCollector::new(
            client,
            config.collection.windows.clone(),
            config.collection.tz.clone(),
            config.collection.interval,
            config.collection.max_agents,
            telemetry.clone(),
        );
        jobs.push(Scheduled { job: Job::LaafficSeats(collector), interval: config.collection.interval });
    }

    let first = shared.encode().map_err(|_| StartError::Encode)?;
    let (publish, exposition) = watch::channel(Arc::new(first));
    let (stop, stopped) = watch::channel(false);
    let names: Vec<String> = jobs.iter().map(|j| j.job.name()).collect();
    info!(
        %address,
        path = %config.process.telemetry_path,
        collectors = %names.join(","),
        interval_s = config.collection.interval.as_secs_f64(),
        "sobot_exporter listening"
    );
    scheduler::spawn(jobs, &shared, KEEP_INTERVALS, publish, stopped);
    let routes = Routes { telemetry_path: config.process.telemetry_path.clone().into(), exposition };
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
                    filter: if !config.collection.agents.is_empty() {
                        Some(("serviceids", config.collection.agents.clone()))
                    } else if !config.collection.groups.is_empty() {
                        Some(("groupids", config.collection.groups.clone()))
                    } else {
                        None
                    },
                    max_agents: config.collection.max_agents,
                },
            };
            let job = Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone()));
            Scheduled { job, interval: config.collection.interval }
        }
        CollectorKind::Group(endpoint) => {
            let scope = Scope::PerGroup(config.collection.groups.clone());
            let job = Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone()));
            Scheduled { job, interval: config.collection.interval }
        }
        CollectorKind::Quality(source) => {
            let ctx = Context { interval: config.collection.quality_interval, ..ctx.clone() };
            let pages = PageSettings {
                page_size: config.collection.quality_page_size,
                max_pages: config.collection.quality_max_pages,
                max_agents: config.collection.max_agents,
            };
            let job = Job::Quality(QualityCollector::new(source, ctx, pages));
            Scheduled { job, interval: config.collection.quality_interval }
        }
    })
}
