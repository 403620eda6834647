//! The Grafana dashboards, one module each, and the query shapes they share.
//!
//! Queries end every selector with `..`, the dashboard's scope (see [`super::grafana`]). The
//! recording rules they read are checked against [`super::rules::record_names`] by a test, and
//! the thresholds the alerts fire at come from [`super::rules`], so a panel's red is the alert's.

mod agents;
mod health;
mod history;
mod laaffic;
mod overview;
mod platform;
mod quality;

use super::Settings;
use super::grafana::{Dashboard, Panel, Tenants, Unit, bars, gauge, per_process, stat, table, timeseries};
use super::rules::{BAD_REVIEWS, NOT_RECEIVED, QUEUE_ABANDONED, RESPONSE_TIME, ROBOT_TO_HUMAN};

/// Every dashboard with its file, relative to the repository's root.
pub(super) fn all(s: &Settings) -> Vec<(&'static str, Dashboard)> {
    vec![
        ("dashboards/exporter-health.json", health::dashboard()),
        ("dashboards/laaffic-callcenter.json", laaffic::dashboard(s)),
        ("dashboards/sobot-agents.json", agents::dashboard()),
        ("dashboards/sobot-overview.json", overview::dashboard(s)),
        ("dashboards/sobot-platform.json", platform::dashboard(s)),
        ("dashboards/sobot-quality.json", quality::dashboard()),
    ]
}

/// The company's figure; with groups selected (the `group` variable not "All"), each selected
/// group's. `company` and `groups` are the two series, `sobot_…` and `sobot_group_…`.
fn company_or_groups(company: &str, groups: &str) -> String {
    format!(
        r#"({company}) and on() absent(sobot_group_human_consult_sessions{{window="$window", group!~"$group", ..}}) or on() ({groups})"#
    )
}

/// [`company_or_groups`] of `sobot_<field>` and `sobot_group_<field>` in the selected window.
fn by_group(field: &str) -> String {
    company_or_groups(
        &format!(r#"sobot_{field}{{window="$window", ..}}"#),
        &format!(r#"sobot_group_{field}{{window="$window", group=~"$group", ..}}"#),
    )
}

/// [`company_or_groups`] of the recording rules `sobot:<rule>` and `sobot_group:<rule>`.
fn by_group_rule(rule: &str) -> String {
    company_or_groups(
        &format!("sobot:{rule}{{..}}"),
        &format!(r#"sobot_group:{rule}{{group=~"$group", ..}}"#),
    )
}

/// `expr` (one series per agent) with the agent's `name` from `sobot_agent_info`, or its id where
/// it has no info series; `agents` lists the agents `expr` has.
fn agent_named_by(expr: &str, agents: &str) -> String {
    format!(
        r#"({expr}) * on(agent) group_left(name) (topk by (agent) (1, max by (agent, name) (sobot_agent_info{{..}})) or on(agent) label_replace(group by (agent) ({agents}), "name", "$1", "agent", "(.+)"))"#
    )
}

/// [`agent_named_by`] a selector.
fn agent_named(series: &str) -> String {
    agent_named_by(series, series)
}

/// `expr` (one series per seat and group) with the seat's `name` and `emp_no` from
/// `laaffic_seat_info`, or its id where it has no info series.
fn seat_named_by(expr: &str, seats: &str) -> String {
    format!(
        r#"({expr}) * on(seat, group) group_left(name, emp_no) (topk by (seat, group) (1, max by (seat, group, name, emp_no) (laaffic_seat_info{{..}})) or on(seat, group) label_replace(group by (seat, group) ({seats}), "name", "$1", "seat", "(.+)"))"#
    )
}

/// [`seat_named_by`] a selector.
fn seat_named(series: &str) -> String {
    seat_named_by(series, series)
}

/// `expr` (one series per seat group) with the group's `group_name` from `laaffic_seat_info`.
fn group_named(expr: &str, groups: &str) -> String {
    format!(
        r#"({expr}) * on(group) group_left(group_name) (topk by (group) (1, max by (group, group_name) (laaffic_seat_info{{..}})) or on(group) label_replace(group by (group) ({groups}), "group_name", "$1", "group", "(.+)"))"#
    )
}

/// `expr` (one series per tenant) with the tenant's `name` from `sobot_platform_tenant_info`.
fn tenant_named(expr: &str) -> String {
    format!("({expr}) * on(tenant) group_left(name) max by (tenant, name) (sobot_platform_tenant_info{{..}})")
}

/// A ratio's threshold as the descriptions write it: `0.2` is "20 %".
fn percent(ratio: f64) -> String {
    format!("{} %", super::rules::percent(ratio))
}

/// The `$top` highest series of `expr`.
fn top(expr: &str) -> String {
    format!("topk($top, {expr})")
}

/// The `$top` lowest series of `expr`.
fn bottom(expr: &str) -> String {
    format!("bottomk($top, {expr})")
}
