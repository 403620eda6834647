//! A target's collectors: built from its spec and the collection config, run by its task.

use std::sync::Arc;
use std::time::Duration;

use super::{Shared, TargetKind, TargetSpec};
use crate::config::CollectorKind;
use crate::snapshot::Family;
use crate::sources::laaffic::client::LaafficClient;
use crate::sources::laaffic::seats::SeatCollector;
use crate::sources::platform::collectors::PlatformCollector;
use crate::sources::platform::{PlatformClient, PlatformCredentials};
use crate::sources::sobot::client::SobotClient;
use crate::sources::sobot::endpoints::Rows;
use crate::sources::sobot::quality::{PageSettings, QualityCollector};
use crate::sources::sobot::stats::{Context, Scope, StatsCollector, Switches};
use crate::telemetry::Telemetry;
use crate::upstream::UpstreamError;

/// A collector of any kind.
#[derive(Debug)]
pub(crate) enum Job {
    /// A Sobot statistics endpoint (company, per group or per agent).
    SobotStats(StatsCollector),
    /// A Sobot quality-inspection source.
    Quality(QualityCollector),
    /// Laaffic seats.
    LaafficSeats(SeatCollector),
    /// The platform's discovery or statistics.
    Platform(PlatformCollector),
}

impl Job {
    /// The collector's name, the `collector` label of the self-metrics.
    pub(crate) fn name(&self) -> String {
        match self {
            Job::SobotStats(c) => c.name().to_string(),
            Job::Quality(c) => c.name().to_string(),
            Job::LaafficSeats(c) => c.name().to_string(),
            Job::Platform(c) => c.name().to_string(),
        }
    }

    /// Whether it calls Sobot (and so needs the target's token).
    pub(crate) fn needs_sobot_token(&self) -> bool {
        matches!(self, Job::SobotStats(_) | Job::Quality(_))
    }

    /// One cycle.
    pub(crate) async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        match self {
            Job::SobotStats(c) => c.collect().await,
            Job::Quality(c) => c.collect().await,
            Job::LaafficSeats(c) => c.collect().await,
            Job::Platform(c) => c.collect().await,
        }
    }
}

/// A job with its interval.
#[derive(Debug)]
pub(crate) struct Scheduled {
    pub(crate) job: Arc<Job>,
    pub(crate) interval: Duration,
}

/// The collectors of a target, and its Sobot client (whose token the target's cycles share).
pub(crate) fn build(
    spec: &TargetSpec,
    shared: &Shared,
    telemetry: &Arc<Telemetry>,
) -> (Vec<Scheduled>, Option<Arc<SobotClient>>) {
    let config = &spec.config;
    let mut jobs = Vec::new();
    if spec.kind == TargetKind::Platform
        && let Some(platform) = &config.platform
    {
        let credentials = PlatformCredentials {
            union_code: platform.union_code.clone(),
            email: platform.email.clone(),
            union_key: platform.union_key.clone(),
        };
        let client = Arc::new(PlatformClient::new(
            &config.sobot,
            shared.sobot_http(),
            credentials,
            telemetry.clone(),
            // Every replica calls the platform: they share its limit.
            platform.shard.count(),
        ));
        let company_app = config.credentials.as_ref().map(|c| c.app_id.as_str());
        let collectors =
            PlatformCollector::all(platform, company_app, &config.tz, &client, &shared.discovered, telemetry);
        jobs.extend(
            collectors
                .into_iter()
                .map(|c| Scheduled { job: Arc::new(Job::Platform(c)), interval: platform.interval }),
        );
        return (jobs, None);
    }
    let sobot = spec.sobot.clone().map(|credentials| {
        Arc::new(
            SobotClient::new(
                &config.sobot,
                shared.sobot_http(),
                credentials,
                telemetry.clone(),
                config.interval / 2,
            )
            .sharing(&shared.tokens),
        )
    });
    if let Some(client) = &sobot {
        let ctx = Context {
            client: client.clone(),
            windows: config.windows.clone(),
            tz: config.tz.clone(),
            interval: config.interval,
            telemetry: telemetry.clone(),
            switches: Switches {
                agent_score_evaluations: config.agent_score_evaluations,
                quality_part_scores: config.quality_part_scores,
            },
        };
        jobs.extend(config.collectors.iter().filter_map(|kind| sobot_job(*kind, spec, &ctx)));
    }
    if let Some(credentials) = spec.laaffic.clone()
        && config.collectors.iter().any(|k| matches!(k, CollectorKind::LaafficSeats))
    {
        let client = Arc::new(LaafficClient::new(
            &config.laaffic,
            shared.laaffic_http(),
            credentials,
            telemetry.clone(),
        ));
        let collector = SeatCollector::new(
            client,
            config.windows_of(&CollectorKind::LaafficSeats),
            config.tz.clone(),
            config.interval,
            config.max_seats,
            telemetry.clone(),
        );
        jobs.push(Scheduled { job: Arc::new(Job::LaafficSeats(collector)), interval: config.interval });
    }
    (jobs, sobot)
}

/// The job of one configured Sobot collector; `None` for the Laaffic one.
fn sobot_job(kind: CollectorKind, spec: &TargetSpec, ctx: &Context) -> Option<Scheduled> {
    let config = &spec.config;
    let ctx = &Context { windows: config.windows_of(&kind), ..ctx.clone() };
    let (job, interval) = match kind {
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
            (Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone())), config.interval)
        }
        CollectorKind::Group(endpoint) => {
            let scope = Scope::PerGroup(config.groups.clone());
            (Job::SobotStats(StatsCollector::new(endpoint, scope, ctx.clone())), config.interval)
        }
        CollectorKind::Quality(source) => {
            let ctx = Context { interval: config.quality_interval, ..ctx.clone() };
            let pages = PageSettings {
                page_size: config.quality_page_size,
                max_pages: config.quality_max_pages,
                max_agents: config.max_agents,
            };
            (Job::Quality(QualityCollector::new(source, ctx, pages)), config.quality_interval)
        }
    };
    Some(Scheduled { job: Arc::new(job), interval })
}
