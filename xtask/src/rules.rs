//! The recording rules and alerts, as tables, and their YAML.
//!
//! Recording rules' names are built here and the alerts and dashboards read them through
//! [`record_names`] and the constants, so a name cannot drift between a rule and its readers.

use std::fmt::Write;

use super::{File, GENERATED, Settings};

/// A service alert's threshold, and the level below it where a panel turns orange.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    pub(super) warn: f64,
    pub(super) alert: f64,
}

/// Not received over valid human sessions, last 15 minutes (`SobotHumanNotReceivedHigh`).
pub(super) const NOT_RECEIVED: Limit = Limit { warn: 0.1, alert: 0.2 };
/// Sessions that left the queue over consultations, last 15 minutes (`SobotQueueAbandonmentHigh`).
pub(super) const QUEUE_ABANDONED: Limit = Limit { warn: 0.05, alert: 0.1 };
/// Bad reviews over evaluations, last hour (`SobotBadReviewRatioHigh`).
pub(super) const BAD_REVIEWS: Limit = Limit { warn: 0.05, alert: 0.1 };
/// Robot sessions transferred to a human, last 15 minutes (`SobotRobotTransferToHumanHigh`).
pub(super) const ROBOT_TO_HUMAN: Limit = Limit { warn: 0.5, alert: 0.6 };
/// The day's average response time in seconds (`SobotResponseTimeSlow`).
pub(super) const RESPONSE_TIME: Limit = Limit { warn: 45.0, alert: 60.0 };

/// The windows the rates are recorded over.
const WINDOWS: [&str; 2] = ["15m", "1h"];

/// Day-so-far gauges (`window="today"`) recorded as increases, company-wide (`sobot:`) and, where
/// the per-group twin exists, per skill group (`sobot_group:`).
const DAY_COUNTS: [(&str, bool); 8] = [
    ("human_valid_sessions", true),
    ("human_consult_sessions", true),
    ("human_not_received_sessions", true),
    ("human_queue_abandoned_sessions", true),
    ("human_satisfaction_evaluations", true),
    ("human_satisfaction_bad_reviews", true),
    ("robot_valid_sessions", false),
    ("robot_to_human_sessions", false),
];

/// A recording rule.
struct Record {
    name: String,
    expr: String,
}

/// An alerting rule.
struct Alert {
    name: &'static str,
    comment: &'static str,
    expr: String,
    for_: &'static str,
    severity: &'static str,
    summary: &'static str,
    description: String,
    /// Grafana uid of the dashboard to open first.
    dashboard: Option<&'static str>,
}

/// The increase of a day-so-far gauge over `w`, with the midnight reset handled: a drop to less
/// than half of the window's highest value is the reset, and the value since midnight is the
/// increase; a smaller drop is the upstream revising a figure and counts as no change.
fn day_increase(metric: &str, w: &str) -> String {
    let s = format!("{metric}{{window=\"today\"}}");
    format!(
        "sum without (window) (\n  ({s} < max_over_time({s}[{w}]) / 2)\n  or clamp_min(delta({s}[{w}]), 0)\n)"
    )
}

/// `num / den`, recorded only where `den` reached `min` (no ratio from a handful of sessions).
fn guarded_ratio(num: &str, den: &str, min: u32) -> String {
    format!("{num}\n/ ({den} >= {min})")
}

fn records(s: &Settings) -> Vec<(&'static str, &'static str, Vec<Record>)> {
    let mut rates = Vec::new();
    for w in WINDOWS {
        for (count, grouped) in DAY_COUNTS {
            rates.push(Record {
                name: format!("sobot:{count}:increase{w}"),
                expr: day_increase(&format!("sobot_{count}"), w),
            });
            if grouped {
                rates.push(Record {
                    name: format!("sobot_group:{count}:increase{w}"),
                    expr: day_increase(&format!("sobot_group_{count}"), w),
                });
            }
        }
        for count in ["seat_calls", "seat_connected_calls"] {
            rates.push(Record {
                name: format!("laaffic_group:{count}:increase{w}"),
                expr: day_increase(&format!("laaffic_{count}"), w).replacen(
                    "without (window)",
                    "without (seat, window)",
                    1,
                ),
            });
            rates.push(Record {
                name: format!("laaffic:{count}:increase{w}"),
                expr: format!("sum without (group) (laaffic_group:{count}:increase{w})"),
            });
        }
    }
    let mut ratios = Vec::new();
    for w in WINDOWS {
        for level in ["sobot", "sobot_group"] {
            let ratio = |num: &str, den: &str, min| {
                guarded_ratio(
                    &format!("{level}:{num}:increase{w}"),
                    &format!("{level}:{den}:increase{w}"),
                    min,
                )
            };
            ratios.push(Record {
                name: format!("{level}:human_not_received:ratio{w}"),
                expr: ratio("human_not_received_sessions", "human_valid_sessions", s.min_sessions),
            });
            ratios.push(Record {
                name: format!("{level}:human_queue_abandoned_per_consult:ratio{w}"),
                expr: ratio("human_queue_abandoned_sessions", "human_consult_sessions", s.min_sessions),
            });
            ratios.push(Record {
                name: format!("{level}:human_satisfaction_bad_review:ratio{w}"),
                expr: ratio(
                    "human_satisfaction_bad_reviews",
                    "human_satisfaction_evaluations",
                    s.min_evaluations,
                ),
            });
        }
        ratios.push(Record {
            name: format!("sobot:robot_to_human:ratio{w}"),
            expr: guarded_ratio(
                &format!("sobot:robot_to_human_sessions:increase{w}"),
                &format!("sobot:robot_valid_sessions:increase{w}"),
                s.min_sessions,
            ),
        });
        for level in ["laaffic", "laaffic_group"] {
            ratios.push(Record {
                name: format!("{level}:connect:ratio{w}"),
                expr: guarded_ratio(
                    &format!("{level}:seat_connected_calls:increase{w}"),
                    &format!("{level}:seat_calls:increase{w}"),
                    s.min_calls,
                ),
            });
        }
    }
    let mut kpis = Vec::new();
    for (level, without) in [("sobot", "agent, group, window"), ("sobot_group", "agent, window")] {
        kpis.push(Record {
            name: format!("{level}:agent_response_in_30s:ratio_today"),
            expr: format!(
                "sum without ({without}) (\n  sobot_agent_response_in_30s_ratio{{window=\"today\"}}\n  * sobot_agent_valid_reception_sessions{{window=\"today\"}}\n)\n/ (sum without ({without}) (sobot_agent_valid_reception_sessions{{window=\"today\"}}) > 0)"
            ),
        });
    }
    for (level, prefix) in [("sobot", "sobot_human"), ("sobot_group", "sobot_group_human")] {
        kpis.push(Record {
            name: format!("{level}:human_queue_not_connected:ratio_today"),
            expr: format!("1 - sum without (window) ({prefix}_queue_accept_ratio{{window=\"today\"}})"),
        });
        kpis.push(Record {
            name: format!("{level}:human_handle_time_seconds:avg_today"),
            expr: format!("sum without (window) ({prefix}_avg_session_duration_seconds{{window=\"today\"}})"),
        });
    }
    for (level, without) in [("laaffic", "seat, group"), ("laaffic_group", "seat")] {
        kpis.push(Record {
            name: format!("{level}:seat_occupancy:ratio"),
            expr: format!(
                "sum without ({without}, status) (laaffic_seat_status{{status=~\"busy|wrap_up\"}})\n/ (sum without ({without}, status) (laaffic_seat_status{{status!=\"offline\"}}) > 0)"
            ),
        });
        kpis.push(Record {
            name: format!("{level}:connect:ratio_today"),
            expr: format!(
                "sum without ({without}, window) (laaffic_seat_connected_calls{{window=\"today\"}})\n/ (sum without ({without}, window) (laaffic_seat_calls{{window=\"today\"}}) > 0)"
            ),
        });
    }
    vec![
        (
            "sobot_exporter_rates",
            "Increases of the day-so-far gauges over the last 15 minutes and hour, midnight reset handled.",
            rates,
        ),
        ("sobot_exporter_ratios", "Session ratios over the same windows, with the volume guard.", ratios),
        ("sobot_exporter_kpis", "The KPI cookbook of docs/alerts.md.", kpis),
    ]
}

#[cfg(test)]
/// Every recording rule's name, in the order of `dashboards/rules.yml`.
pub(crate) fn record_names() -> Vec<String> {
    records(&Settings::default()).into_iter().flat_map(|(_, _, r)| r).map(|r| r.name).collect()
}

/// A counter that rose in the last `w`, or appeared above 0 within it (a series born at 1 has no
/// increase to see; one born at 0, as every counter of a fresh exporter, has nothing counted).
fn counter_rose(selector: &str, w: &str) -> String {
    format!("increase({selector}[{w}]) > 0\nor ({selector} > 0 unless {selector} offset {w})")
}

/// A ratio as a percentage: 0.2 is 20.
pub(super) fn percent(ratio: f64) -> f64 {
    (ratio * 1000.0).round() / 10.0
}

/// `sobot:<rule> > limit or sobot_group:<rule> > limit`: company-wide or per skill group.
fn either_level(rule: &str, limit: Limit) -> String {
    format!("sobot:{rule} > {a}\nor sobot_group:{rule} > {a}", a = limit.alert)
}

const AUTH_CODES: &str = "910001|910003|910004|900001|900003|900004|-1";

fn alerts(s: &Settings) -> Vec<Alert> {
    let health = Some("sobot-exporter-health");
    let overview = Some("sobot-overview");
    // A platform tenant: a target with a tenant label, whose alert is SobotTenantFailing alone
    // (one a tenant, not one a collector); the per-collector alerts are the company's.
    let tenant_health = "min without (collector) (sobot_exporter_collector_success{tenant!=\"\"})";
    let tenant_failing = "count without (collector) (sobot_exporter_collector_success{tenant!=\"\"} == 0)\n  or up{tenant!=\"\"} == 0";
    let tenant_named = "topk by (tenant) (1, label_replace(sobot_platform_tenant_info, \"tenant_name\", \"$1\", \"name\", \"(.+)\"))";
    vec![
        Alert {
            name: "SobotExporterDown",
            comment: "",
            expr: "up{job=\"sobot_exporter\"} == 0".into(),
            for_: "5m",
            severity: "critical",
            summary: "Sobot exporter {{ $labels.instance }} is down",
            description: "Prometheus could not scrape the Sobot exporter {{ $labels.instance }} (job {{ $labels.job }}) for 5 minutes: no Sobot or Laaffic metrics are being collected.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotCollectorFailing",
            comment: "The company's (a tenant's are SobotTenantFailing). Fires before SobotDataStale: 5 minutes of failures against 3 intervals plus 5 minutes.",
            expr: "sobot_exporter_collector_success{tenant=\"\"} == 0".into(),
            for_: "5m",
            severity: "warning",
            summary: "Sobot collector {{ $labels.collector }} is failing",
            description: "Every cycle of collector {{ $labels.collector }} on {{ $labels.instance }} has failed for 5 minutes. Its last good samples are kept for three intervals, then dropped (SobotDataStale).".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotCollectorNeverSucceeded",
            comment: "A collector of the company that has an interval but no last success at all (wrong credentials from the start).",
            expr: "sobot_exporter_collector_interval_seconds{tenant=\"\"}\nunless sobot_exporter_collector_last_success_timestamp_seconds".into(),
            for_: "10m",
            severity: "warning",
            summary: "Sobot collector {{ $labels.collector }} has never succeeded",
            description: "Collector {{ $labels.collector }} on {{ $labels.instance }} has not completed one successful cycle in 10 minutes since it started: its metrics have never been exported.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotDataStale",
            comment: "The company's collectors.",
            expr: "time() - sobot_exporter_collector_last_success_timestamp_seconds{tenant=\"\"}\n> 3 * sobot_exporter_collector_interval_seconds".into(),
            for_: "5m",
            severity: "warning",
            summary: "Sobot collector {{ $labels.collector }} data is stale",
            description: "Collector {{ $labels.collector }} on {{ $labels.instance }} last succeeded {{ $value | humanizeDuration }} ago, more than three collection intervals: its metrics are missing or out of date.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotUpstreamRateLimited",
            comment: "The company's and the platform's endpoints (a tenant's failures are SobotTenantFailing).",
            expr: counter_rose("sobot_exporter_upstream_requests_total{code=\"210017\", tenant=\"\"}", "10m"),
            for_: "",
            severity: "warning",
            summary: "Sobot rate-limits the exporter on {{ $labels.endpoint }}",
            description: "Endpoint {{ $labels.endpoint }} answered 210017 (rate limited) in the last 10 minutes on {{ $labels.instance }}.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotUpstreamAuthFailing",
            comment: "The company's or the platform's credentials (a tenant's are SobotTenantFailing): without them nothing of that vendor is collected. A failing target retries at least every 5 minutes (the longest backoff): a 10-minute window stays true while the credentials are wrong, one rejected request does not page.",
            expr: counter_rose(&format!("sobot_exporter_upstream_requests_total{{code=~\"{AUTH_CODES}\", tenant=\"\"}}"), "10m"),
            for_: "10m",
            severity: "critical",
            summary: "Sobot or Laaffic authentication is failing on {{ $labels.endpoint }}",
            description: "Endpoint {{ $labels.endpoint }} has answered authentication error {{ $labels.code }} for 10 minutes on {{ $labels.instance }}: nothing that needs these credentials is collected. Check them.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotAgentsDropped",
            comment: "",
            expr: "sobot_exporter_agents_dropped > 0".into(),
            for_: "15m",
            severity: "warning",
            summary: "Collector {{ $labels.collector }} drops {{ $value }} agents",
            description: "The cardinality guard (max_agents) dropped {{ $value }} agents or seats from collector {{ $labels.collector }} on {{ $labels.instance }} for 15 minutes: their series are missing.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotCollectorTruncated",
            comment: "",
            expr: "sobot_exporter_collector_truncated == 1".into(),
            for_: "15m",
            severity: "warning",
            summary: "Collector {{ $labels.collector }} stops at the page cap",
            description: "Every cycle of collector {{ $labels.collector }} on {{ $labels.instance }} stopped at the page cap before the last page for 15 minutes: the rest of the answer is not exported.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotUpstreamItemsDropped",
            comment: "",
            expr: counter_rose("sobot_exporter_upstream_items_dropped_total", "15m"),
            for_: "",
            severity: "warning",
            summary: "Answers of {{ $labels.endpoint }} hold more items than the exporter reads",
            description: "A list in the answers of {{ $labels.endpoint }} on {{ $labels.instance }} held more items than the cap in the last 15 minutes: the items past it were skipped.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotParseErrors",
            comment: "",
            expr: counter_rose("sobot_exporter_parse_errors_total", "15m"),
            for_: "15m",
            severity: "warning",
            summary: "Field {{ $labels.field }} of {{ $labels.endpoint }} does not parse",
            description: "Values of {{ $labels.field }} from {{ $labels.endpoint }} on {{ $labels.instance }} have not parsed for 15 minutes: those samples are missing. The upstream may have changed its format.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotTenantFailing",
            comment: "A platform tenant (a target with a tenant label) with a failing collector, or whose scrape fails: one alert a tenant, named from sobot_platform_tenant_info (or the tenant_name label of /sd where that is missing).",
            expr: format!(
                "(\n  {tenant_failing}\n)\n* on (tenant) group_left (tenant_name) {tenant_named}\nor (\n  {tenant_failing}\n)\nunless on (tenant) sobot_platform_tenant_info"
            ),
            for_: "15m",
            severity: "warning",
            summary: "Platform tenant {{ $labels.tenant }}{{ with $labels.tenant_name }} ({{ . }}){{ end }} is not collected",
            description: "Collectors of tenant {{ $labels.tenant }}{{ with $labels.tenant_name }} ({{ . }}){{ end }} ({{ $labels.job }}) have failed every cycle, or its scrape has, for 15 minutes: its statistics are missing or out of date. The exporter's warnings with its id as target_id say why (a key Sobot refuses is get_token code 910003).".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotTenantsFailing",
            comment: "Many tenants at once: the platform, the network or the exporter, not one tenant's credentials.",
            expr: format!(
                "count by (job) ({tenant_health} == 0)\n  / count by (job) ({tenant_health})\n> 0.1\nand on (job) count by (job) ({tenant_health} == 0) >= 2"
            ),
            for_: "10m",
            severity: "critical",
            summary: "{{ $value | humanizePercentage }} of the platform tenants of {{ $labels.job }} are failing",
            description: "More than 10% (and at least 2) of the tenants of {{ $labels.job }} have had a collector failing for 10 minutes: a cause common to them (the platform, the network, the exporter), not each tenant's credentials.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotExporterConnectionLimit",
            comment: "",
            expr: counter_rose("sobot_exporter_http_connections_closed_total{reason=\"limit\"}", "10m"),
            for_: "",
            severity: "warning",
            summary: "Sobot exporter {{ $labels.instance }} is at its connection limit",
            description: "The exporter {{ $labels.instance }} closed or refused connections at --web.max-connections in the last 10 minutes: scrapes may fail.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotExporterReloadFailed",
            comment: "",
            expr: "sobot_exporter_config_last_reload_successful == 0".into(),
            for_: "",
            severity: "warning",
            summary: "Sobot exporter {{ $labels.instance }} failed to reload its configuration",
            description: "The last configuration reload of {{ $labels.instance }} failed: the exporter runs the configuration it had before, not the one on disk.".into(),
            dashboard: health,
        },
        Alert {
            name: "SobotRobotTransferToHumanHigh",
            comment: "",
            expr: format!("sobot:robot_to_human:ratio15m > {}", ROBOT_TO_HUMAN.alert),
            for_: "15m",
            severity: "warning",
            summary: "The robot transfers {{ $value | humanizePercentage }} of its sessions to humans",
            description: format!("More than {}% of the robot's valid sessions in the last 15 minutes were transferred to a human agent, for 15 minutes ({{{{ $labels.instance }}}}): the robot deflects too little and agents get the load.", percent(ROBOT_TO_HUMAN.alert)),
            dashboard: overview,
        },
        Alert {
            name: "SobotHumanNotReceivedHigh",
            comment: "Company-wide, and per skill group (label group).",
            expr: either_level("human_not_received:ratio15m", NOT_RECEIVED),
            for_: "10m",
            severity: "warning",
            summary: "{{ $value | humanizePercentage }} of the human sessions were not received{{ with $labels.group }} in group {{ . }}{{ end }}",
            description: format!("More than {}% of the valid human sessions of the last 15 minutes were not received by any agent, for 10 minutes ({{{{ $labels.instance }}}}).", percent(NOT_RECEIVED.alert)),
            dashboard: overview,
        },
        Alert {
            name: "SobotQueueAbandonmentHigh",
            comment: "Sessions that left the queue over human consultation sessions: the API has no count of queued sessions.",
            expr: either_level("human_queue_abandoned_per_consult:ratio15m", QUEUE_ABANDONED),
            for_: "10m",
            severity: "warning",
            summary: "{{ $value | humanizePercentage }} of the human consultations left the queue{{ with $labels.group }} in group {{ . }}{{ end }}",
            description: format!("Sessions that left while queued were more than {}% of the human consultation sessions of the last 15 minutes, for 10 minutes ({{{{ $labels.instance }}}}).", percent(QUEUE_ABANDONED.alert)),
            dashboard: overview,
        },
        Alert {
            name: "SobotResponseTimeSlow",
            comment: "The API reports only the day's average response time: no windowed figure can be derived from it without its unstated denominator. Guarded by the day's valid reception sessions.",
            expr: format!(
                "sobot_human_avg_response_time_seconds{{window=\"today\"}} > {limit}\n  and sobot_human_valid_reception_sessions{{window=\"today\"}} >= {min}\nor sobot_group_human_avg_response_time_seconds{{window=\"today\"}} > {limit}\n  and sobot_group_human_valid_reception_sessions{{window=\"today\"}} >= {min}",
                limit = RESPONSE_TIME.alert,
                min = s.min_sessions
            ),
            for_: "15m",
            severity: "warning",
            summary: "Agents take {{ $value | humanizeDuration }} on average to respond today{{ with $labels.group }} in group {{ . }}{{ end }}",
            description: format!("The average agent response time of today's human sessions has been above {} s for 15 minutes, over at least {} valid receptions ({{{{ $labels.instance }}}}).", RESPONSE_TIME.alert, s.min_sessions),
            dashboard: overview,
        },
        Alert {
            name: "SobotBadReviewRatioHigh",
            comment: "",
            expr: either_level("human_satisfaction_bad_review:ratio1h", BAD_REVIEWS),
            for_: "15m",
            severity: "warning",
            summary: "{{ $value | humanizePercentage }} of the last hour's evaluations are bad reviews{{ with $labels.group }} in group {{ . }}{{ end }}",
            description: format!("More than {}% of the satisfaction evaluations of human sessions in the last hour have been bad reviews, for 15 minutes ({{{{ $labels.instance }}}}).", percent(BAD_REVIEWS.alert)),
            dashboard: overview,
        },
    ]
}

/// Every alert's name, the shard alerts' included.
#[cfg(test)]
pub(super) fn alert_names() -> Vec<&'static str> {
    alerts(&Settings::default()).iter().chain(&shard_alerts()).map(|a| a.name).collect()
}

fn shard_alerts() -> Vec<Alert> {
    let served = "count by (job) (count by (job, shard) (sobot_exporter_platform_shard_info))";
    vec![
        Alert {
            name: "SobotExporterShardDuplicated",
            comment: "",
            expr: "count by (job, shard, shards) (sobot_exporter_platform_shard_info) > 1".into(),
            for_: "5m",
            severity: "warning",
            summary: "Shard {{ $labels.shard }}/{{ $labels.shards }} of {{ $labels.job }} runs on {{ $value }} replicas",
            description: "{{ $value }} replicas of {{ $labels.job }} serve shard {{ $labels.shard }} of {{ $labels.shards }}: they collect the same tenants twice (twice the upstream calls, and their tokens may invalidate each other) and each of those tenants is scraped twice.".into(),
            dashboard: None,
        },
        Alert {
            name: "SobotExporterShardMissing",
            comment: "Shards the replicas were told exist, minus the distinct shards some replica reports.",
            expr: format!("max by (job) (sobot_exporter_platform_shards)\n  - {served}\n> 0"),
            for_: "10m",
            severity: "critical",
            summary: "{{ $value }} shard(s) of {{ $labels.job }} are not served",
            description: "{{ $value }} of the shards of {{ $labels.job }} have no replica reporting them for 10 minutes: a replica is down, not scraped, or was started with the wrong --platform.shard. The tenants of those shards are not collected.".into(),
            dashboard: None,
        },
        Alert {
            name: "SobotExporterShardCountMismatch",
            comment: "",
            expr: "count by (job) (count by (job, shards) (sobot_exporter_platform_shard_info)) > 1".into(),
            for_: "15m",
            severity: "warning",
            summary: "Replicas of {{ $labels.job }} disagree on the number of shards",
            description: "The replicas of {{ $labels.job }} were started with {{ $value }} different shard counts (the M of --platform.shard N/M) for 15 minutes: their shares overlap or leave gaps, so some tenants are collected twice and others not at all.".into(),
            dashboard: None,
        },
        Alert {
            name: "SobotExporterTenantsUnserved",
            comment: "The list every replica discovers, minus what the replicas serve together; quiet while a shard is missing, which SobotExporterShardMissing reports.",
            expr: format!(
                "(\n  max by (job) (sobot_exporter_platform_tenants_discovered)\n    - sum by (job) (sobot_exporter_platform_tenants_served)\n  > 0\n)\nunless on (job)\n(\n  {served}\n    < max by (job) (sobot_exporter_platform_shards)\n)"
            ),
            for_: "15m",
            severity: "warning",
            summary: "{{ $value }} discovered tenant(s) of {{ $labels.job }} are served by no replica",
            description: "Every shard of {{ $labels.job }} is up, yet the replicas together serve {{ $value }} fewer tenants than the platform lists, for 15 minutes: the replicas' tenant lists differ (a replica's discovery is failing or late) or their shard counts disagree.".into(),
            dashboard: None,
        },
        Alert {
            name: "SobotExporterPlatformDiscoveryFailing",
            comment: "",
            expr: "sobot_exporter_platform_discovery_success == 0\nor sobot_exporter_platform_tenants_discovered == 0".into(),
            for_: "15m",
            severity: "critical",
            summary: "Tenant discovery of {{ $labels.instance }} is failing",
            description: "The exporter replica {{ $labels.instance }} ({{ $labels.job }}) has not discovered the platform's tenants for 15 minutes (its last discovery failed, or it knows no tenant): tenants added since are not collected, and a replica that never succeeded collects nothing.".into(),
            dashboard: None,
        },
    ]
}

/// A YAML double-quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `key: value` for an expression: plain on one line, a literal block when it has several.
fn write_expr(out: &mut String, indent: &str, expr: &str) {
    if expr.contains('\n') {
        let _ = writeln!(out, "{indent}expr: |");
        for line in expr.lines() {
            let _ = writeln!(out, "{indent}  {line}");
        }
    } else {
        let _ = writeln!(out, "{indent}expr: {expr}");
    }
}

/// A `for:` of whole minutes (`15m`) with each minute lasting `minute` seconds.
fn scaled(for_: &str, minute: u32) -> String {
    match for_.strip_suffix('m').and_then(|m| m.parse::<u32>().ok()) {
        Some(m) if minute.is_multiple_of(60) => format!("{}m", m * minute / 60),
        Some(m) => format!("{}s", m * minute),
        None => for_.to_string(),
    }
}

/// `alerts` as the rule group `group`, their runbooks in `<runbooks>/README.md`.
fn render_alerts(out: &mut String, group: &str, runbooks: &str, alerts: &[Alert], s: &Settings) {
    let _ = writeln!(out, "groups:\n  - name: {group}\n    rules:");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "      - alert: {}", a.name);
        if !a.comment.is_empty() {
            let _ = writeln!(out, "        # {}", a.comment);
        }
        write_expr(out, "        ", &a.expr);
        if !a.for_.is_empty() {
            let _ = writeln!(out, "        for: {}", scaled(a.for_, s.alert_minute_seconds));
        }
        let _ = writeln!(out, "        labels:\n          severity: {}", a.severity);
        let _ = writeln!(out, "        annotations:");
        let _ = writeln!(out, "          summary: {}", quoted(a.summary));
        let _ = writeln!(out, "          description: {}", quoted(&a.description));
        let runbook = format!(
            "{}/{}/README.md#{}",
            s.repository_url.trim_end_matches('/'),
            runbooks,
            a.name.to_lowercase()
        );
        let _ = writeln!(out, "          runbook_url: {}", quoted(&runbook));
        if let Some(uid) = a.dashboard {
            let url = format!("{}/d/{uid}", s.grafana_url.trim_end_matches('/'));
            let _ = writeln!(out, "          dashboard: {}", quoted(&url));
        }
    }
}

/// The rules files, rendered with `settings`.
pub(super) fn render(settings: &Settings) -> Vec<File> {
    let mut rules = String::new();
    let _ = writeln!(
        rules,
        "# Prometheus recording rules for sobot_exporter.\n{GENERATED}\n#\n\
         # The day-so-far gauges (window=\"today\") restart at local midnight. `increaseW` is what a\n\
         # gauge gained in the last W: a drop to less than half of the window's highest value is the\n\
         # midnight reset (the value since midnight is the increase), a smaller drop an upstream\n\
         # revision (no change). Ratios exist only where the denominator reached the volume guard:\n\
         # {} sessions, {} evaluations, {} calls in the window. `sobot:` is per target (a company, or\n\
         # a platform tenant with its `tenant` label), `sobot_group:` per skill group, `laaffic:` and\n\
         # `laaffic_group:` the call center. The KPIs are explained in the KPI cookbook of docs/alerts.md.",
        settings.min_sessions, settings.min_evaluations, settings.min_calls
    );
    let _ = writeln!(rules, "groups:");
    for (i, (name, comment, records)) in records(settings).into_iter().enumerate() {
        if i > 0 {
            rules.push('\n');
        }
        let _ = writeln!(rules, "  # {comment}\n  - name: {name}\n    rules:");
        for r in records {
            let _ = writeln!(rules, "      - record: {}", r.name);
            write_expr(&mut rules, "        ", &r.expr);
        }
    }

    let mut alerts_yml = String::new();
    let _ = writeln!(
        alerts_yml,
        "# Prometheus alerting rules for sobot_exporter; they read the recording rules of rules.yml,\n\
         # so load both. {}\n#\n\
         # Thresholds and durations are defaults. The scrape job is assumed to be `sobot_exporter`\n\
         # (SobotExporterDown). Runbooks: dashboards/README.md, one section per alert.",
        &GENERATED[2..]
    );
    render_alerts(&mut alerts_yml, "sobot_exporter", "dashboards", &alerts(settings), settings);

    let mut shards = String::new();
    let _ = writeln!(
        shards,
        "# Prometheus alerting rules for a sharded sobot_exporter in platform mode (several replicas, each\n\
         # started with --platform.shard N/M or auto/M). Load next to dashboards/alerts.yml.\n{GENERATED}\n#\n\
         # They read the replicas' own /metrics (job `sobot_exporter`): every replica must be scraped by\n\
         # the Prometheus that evaluates them; a deployment is one `job`. A replica that is down has none\n\
         # of the sobot_exporter_platform_* series: its shard counts as missing. Runbooks: deploy/README.md."
    );
    render_alerts(&mut shards, "sobot_exporter_shards", "deploy", &shard_alerts(), settings);

    vec![
        File { path: "dashboards/rules.yml", text: rules },
        File { path: "dashboards/alerts.yml", text: alerts_yml },
        File { path: "deploy/prometheus/shard-alerts.yml", text: shards },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_durations_scale_by_the_minute() {
        assert_eq!(scaled("15m", 60), "15m");
        assert_eq!(scaled("15m", 1), "15s");
        assert_eq!(scaled("5m", 120), "10m");
        assert_eq!(scaled("5m", 90), "450s");
        let quick = Settings { alert_minute_seconds: 1, ..Settings::default() };
        let alerts = render(&quick).into_iter().find(|f| f.path == "dashboards/alerts.yml").map(|f| f.text);
        let alerts = alerts.unwrap_or_default();
        assert!(alerts.contains("for: 15s") && !alerts.contains("for: 15m"), "{alerts}");
    }

    #[test]
    fn a_tenant_raises_only_its_own_alert_and_critical_is_for_the_whole() {
        let settings = Settings::default();
        for a in alerts(&settings) {
            let tenants = a.expr.contains("tenant!=\"\"");
            let company = a.expr.contains("tenant=\"\"");
            // The failure alerts (data-quality ones such as truncation stay per tenant: Alertmanager
            // holds them back while the tenant fails).
            let per_collector =
                ["collector_success", "last_success", "upstream_requests"].iter().any(|m| a.expr.contains(m));
            if per_collector && !a.name.starts_with("SobotTenant") {
                assert!(company && !tenants, "{}: the company's only", a.name);
            }
            let whole = ["SobotExporterDown", "SobotUpstreamAuthFailing", "SobotTenantsFailing"];
            assert_eq!(a.severity == "critical", whole.contains(&a.name), "{}", a.name);
        }
    }
}
