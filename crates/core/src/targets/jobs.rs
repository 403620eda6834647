//! A target's collectors: built from its spec and the collection config, run by its task.

use std::sync::Arc;

use super::{Shared, TargetKind, TargetSpec};
use crate::collect::{Collect, Scheduled};
use crate::config::CollectorKind;
use crate::sources::platform::collectors::PlatformCollector;
use crate::sources::platform::{PlatformClient, PlatformCredentials};
use crate::sources::sobot::client::SobotClient;
use crate::sources::sobot::endpoints::Rows;
use crate::sources::sobot::quality::{PageSettings, QualityCollector};
use crate::sources::sobot::stats::{Context, Scope, StatsCollector, Switches};
use crate::sources::{JobInput, SOURCES};
use crate::telemetry::Telemetry;
use crate::window::Clock;

/// The collectors of a target, reading `clock` (the system's but in the backfill), and its Sobot client (whose token the target's cycles share).
pub(crate) fn build(
    spec: &TargetSpec,
    shared: &Shared,
    telemetry: &Arc<Telemetry>,
    clock: &Clock,
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
        let collectors = PlatformCollector::all(
            platform,
            company_app,
            &config.tz,
            &client,
            &shared.discovered,
            telemetry,
            clock,
        );
        jobs.extend(collectors.into_iter().map(|c| Scheduled {
            job: Arc::new(c),
            interval: platform.interval,
            timeout: config.sobot.timeout,
        }));
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
            clock: clock.clone(),
        };
        jobs.extend(config.collectors.iter().filter_map(|kind| sobot_job(*kind, spec, &ctx)));
    }
    // The company runs the collectors of the other configured sources, each through its entry in
    // the registry.
    if spec.kind == TargetKind::Company {
        for source in SOURCES {
            if let (Some(make), Some(http)) = (source.jobs, shared.source_http(source.name)) {
                jobs.extend(make(&JobInput { collection: &**config, http, telemetry, clock: clock.clone() }));
            }
        }
    }
    (jobs, sobot)
}

/// The job of one configured Sobot collector; `None` for those of other sources.
fn sobot_job(kind: CollectorKind, spec: &TargetSpec, ctx: &Context) -> Option<Scheduled> {
    let config = &spec.config;
    let ctx = &Context { windows: config.windows_of(&kind), ..ctx.clone() };
    let (job, interval) = match kind {
        CollectorKind::Source(_) => return None,
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
            (Arc::new(StatsCollector::new(endpoint, scope, ctx.clone())) as Arc<dyn Collect>, config.interval)
        }
        CollectorKind::Group(endpoint) => {
            let scope = Scope::PerGroup(config.groups.clone());
            (Arc::new(StatsCollector::new(endpoint, scope, ctx.clone())) as Arc<dyn Collect>, config.interval)
        }
        CollectorKind::Quality(source) => {
            let ctx = Context { interval: config.quality_interval, ..ctx.clone() };
            let pages = PageSettings {
                page_size: config.quality_page_size,
                max_pages: config.quality_max_pages,
                max_agents: config.max_agents,
            };
            (Arc::new(QualityCollector::new(source, ctx, pages)) as Arc<dyn Collect>, config.quality_interval)
        }
    };
    Some(Scheduled { job, interval, timeout: config.sobot.timeout })
}
