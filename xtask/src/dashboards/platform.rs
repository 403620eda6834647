//! "Sobot platform" (uid `sobot-platform`, `dashboards/sobot-platform.json`).

use super::*;

pub(super) fn dashboard(s: &Settings) -> Dashboard {
    Dashboard::new("sobot-platform", "Sobot platform", "A Sobot platform's tenants: discovery, shards, failing tenants, the worst tenants by KPI, contract ends and a per-tenant drill-down.")
        .tenants(Tenants::Many)
        .top()
        .row(
            "Platform health",
            vec![
                stat("Tenants discovered", 4, 4)
                    .describe("Tenants the platform lists that the include and exclude lists allow (last successful discovery), summed over replicas' views: each replica discovers every tenant, so this is the highest one.")
                    .query("max(sobot_exporter_platform_tenants_discovered{..})", "discovered"),
                stat("Tenants served", 4, 4)
                    .describe("Tenants collected by the replicas (sum over shards); equal to discovered when every shard runs once.")
                    .query("sum(sobot_exporter_platform_tenants_served{..})", "served"),
                stat("Tenants failing", 4, 4)
                    .describe("Tenants whose every collector failed in its last cycle (alerts SobotTenantFailing after 15 minutes, SobotTenantsFailing above 10 % and 2 tenants).")
                    .worse_above(1.0, 2.0)
                    .query(r#"count(max by (tenant) (sobot_exporter_collector_success{tenant!="", ..}) == 0) or on() vector(0)"#, "failing"),
                stat("Discovery success", 4, 4)
                    .describe("Whether the last discovery (getBatchAppKey) succeeded, worst replica (1 yes, 0 no: the last good list is kept).")
                    .steps("red", &[("green", 1.0)])
                    .query("min(sobot_exporter_platform_discovery_success{..})", "discovery"),
                stat("Shards", 4, 4)
                    .describe("Shards the platform's tenants are split into (--platform.shard N/M) and replicas reporting a shard.")
                    .query("max(sobot_exporter_platform_shards{..})", "shards"),
                stat("Tenants enabled", 4, 4)
                    .describe("Tenants whose status is enabled (sobot_platform_tenant_enabled), of all the platform lists.")
                    .query("sum(max by (tenant) (sobot_platform_tenant_enabled{..}))", "enabled"),
                timeseries("Tenants served per replica", 8, 8)
                    .describe("sobot_exporter_platform_tenants_served by instance and shard: two replicas on one shard, or a missing shard, show here.")
                    .legend_table()
                    .query("sobot_exporter_platform_tenants_served{..} * on(job, instance) group_left(shard, shards) sobot_exporter_platform_shard_info{..}", "{{instance}} shard {{shard}}/{{shards}}"),
                timeseries("Tenants by collector result", 8, 8)
                    .describe("Tenants with at least one collector failing, and with every collector succeeding.")
                    .legend_table()
                    .query(r#"count(min by (tenant) (sobot_exporter_collector_success{tenant!="", ..}) == 1) or on() vector(0)"#, "all collectors succeeding")
                    .query(r#"count(min by (tenant) (sobot_exporter_collector_success{tenant!="", ..}) == 0) or on() vector(0)"#, "some collector failing"),
                table("Failing collectors by tenant", 8, 8)
                    .describe("Collectors of a tenant whose last cycle failed (1 each), with the tenant's name; one row of 0 when every collector succeeds.")
                    .labels(&[("name", "Tenant"), ("tenant", "Tenant id"), ("collector", "Collector")])
                    .column("Failing", Unit::Short, &format!("{} or on() vector(0)", tenant_named(r#"(1 - sobot_exporter_collector_success{tenant=~"$tenant", ..}) > 0"#))),
            ],
        )
        .row(
            "Worst tenants by KPI (today)",
            vec![
                bars("Highest not received ratio", 6, 8)
                    .describe(&format!("Tenants with the highest not received / valid human sessions today (alert level {}).", percent(NOT_RECEIVED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(NOT_RECEIVED)
                    .query(&top(&tenant_named(r#"sobot_human_not_received_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                bars("Highest robot to-human ratio", 6, 8)
                    .describe(&format!("Tenants whose robot transfers the most sessions to humans today (alert level {}).", percent(ROBOT_TO_HUMAN.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(ROBOT_TO_HUMAN)
                    .query(&top(&tenant_named(r#"sobot_robot_to_human_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                bars("Slowest average response", 6, 8)
                    .describe(&format!("Tenants with the longest average agent response time today (alert level {} s).", RESPONSE_TIME.alert))
                    .unit(Unit::Seconds)
                    .alert_at(RESPONSE_TIME)
                    .query(&top(&tenant_named(r#"sobot_human_avg_response_time_seconds{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                bars("Highest bad review ratio", 6, 8)
                    .describe(&format!("Tenants with the highest bad reviews / evaluations today (alert level {}).", percent(BAD_REVIEWS.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(BAD_REVIEWS)
                    .query(&top(&tenant_named(r#"sobot_human_satisfaction_bad_review_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                bars("Lowest queue accept ratio", 6, 8)
                    .describe("Tenants connecting the smallest share of queued sessions today.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.8, 0.9)
                    .query(&bottom(&tenant_named(r#"sobot_human_queue_accept_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                bars("Most human sessions", 6, 8)
                    .describe("Tenants with the most human consultation sessions today.")
                    .query(&top(&tenant_named(r#"sobot_human_consult_sessions{window="today", tenant=~"$tenant", ..}"#)), "{{name}}"),
                timeseries("Not received ratio, last 15 minutes (worst tenants)", 12, 8)
                    .describe(&format!("sobot:human_not_received:ratio15m per tenant (from {} valid sessions in the 15 minutes), highest $top. Alert above {}.", s.min_sessions, percent(NOT_RECEIVED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(NOT_RECEIVED)
                    .threshold_line()
                    .legend_table()
                    .query(&top(&tenant_named(r#"sobot:human_not_received:ratio15m{tenant=~"$tenant", ..}"#)), "{{name}} 15 min")
                    .query(&top(&tenant_named(r#"sobot_human_not_received_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}} today"),
                timeseries("Human valid sessions per 15 minutes (top tenants)", 12, 8)
                    .describe("sobot:human_valid_sessions:increase15m per tenant, highest $top: the load the guarded ratios are computed on.")
                    .legend_table()
                    .query(&top(&tenant_named(r#"sobot:human_valid_sessions:increase15m{tenant=~"$tenant", ..}"#)), "{{name}}"),
            ],
        )
        .row(
            "Contracts and licences",
            vec![
                bars("Contracts ending soonest", 8, 8)
                    .describe("Days until the end of each tenant's term (sobot_platform_tenant_contract_end_timestamp_seconds), the nearest $top; red within 30 days.")
                    .unit(Unit::Days)
                    .worse_below(30.0, 90.0)
                    .query(&bottom(&tenant_named(r#"(max by (tenant) (sobot_platform_tenant_contract_end_timestamp_seconds{tenant=~"$tenant", ..}) - time()) / 86400"#)), "{{name}}"),
                bars("Agents over licence", 8, 8)
                    .describe("Agents the tenant has over the most it may have (sobot_platform_tenant_agents / _max_agents), highest $top.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_above(0.9, 1.0)
                    .query(&top(&tenant_named(r#"max by (tenant) (sobot_platform_tenant_agents{tenant=~"$tenant", ..}) / (max by (tenant) (sobot_platform_tenant_max_agents{tenant=~"$tenant", ..}) > 0)"#)), "{{name}}"),
                table("Disabled tenants", 8, 8)
                    .describe("Tenants whose status is disabled (sobot_platform_tenant_enabled 0); one row of 0 when there is none.")
                    .labels(&[("name", "Tenant"), ("tenant", "Tenant id")])
                    .column("Disabled", Unit::Short, &format!("{} or on() vector(0)", tenant_named(r#"(1 - max by (tenant) (sobot_platform_tenant_enabled{tenant=~"$tenant", ..})) > 0"#))),
            ],
        )
        .row(
            "Tenant drill-down ($tenant)",
            vec![
                timeseries("Sessions of the selected tenants", 8, 8)
                    .describe("Human valid and robot valid sessions today, per tenant (pick tenants with the variable; with All, the top $top).")
                    .legend_table()
                    .query(&top(&tenant_named(r#"sobot_human_valid_sessions{window="today", tenant=~"$tenant", ..}"#)), "{{name}} human")
                    .query(&top(&tenant_named(r#"sobot_robot_valid_sessions{window="today", tenant=~"$tenant", ..}"#)), "{{name}} robot"),
                timeseries("Collector success of the selected tenants", 8, 8)
                    .describe("Collectors of the selected tenants (bottom $top: failing first).")
                    .legend_table()
                    .query(&bottom(&tenant_named(r#"sobot_exporter_collector_success{tenant=~"$tenant", ..}"#)), "{{name}} {{collector}}"),
                bars("Staff by status", 8, 8)
                    .describe("Staff of the selected tenants by current state (getStaffLogInfos).")
                    .query(r#"sum by (status) (sobot_platform_staff_status{tenant=~"$tenant", ..})"#, "{{status}}"),
                bars("Staff with the lowest 60 s first response ratio", 12, 8)
                    .describe("tenantStaffJobList's first responses within 60 s per staff today, lowest $top.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .query(&bottom(&tenant_named(r#"sobot_platform_staff_first_response_in60s_ratio{window="today", tenant=~"$tenant", ..}"#)), "{{name}} {{staff}}"),
                bars("Staff with the most valid consultations", 12, 8)
                    .describe("tenantStaffJobList's valid consultation sessions per staff today, highest $top.")
                    .query(&top(&tenant_named(r#"sobot_platform_staff_valid_consult_sessions{window="today", tenant=~"$tenant", ..}"#)), "{{name}} {{staff}}"),
            ],
        )
}
