//! "Sobot exporter health" (uid `sobot-exporter-health`, `dashboards/exporter-health.json`).

use super::*;

pub(super) fn dashboard() -> Dashboard {
    Dashboard::new("sobot-exporter-health", "Sobot exporter health", "The exporter's own metrics: collector success and durations, data age, upstream requests and errors, token refreshes, parse errors, series.")
        .tags(&["sobot", "exporter"])
        .from("now-6h")
        .tenants(Tenants::One)
        .row(
            "Status",
            vec![
                stat("Exporter version", 4, 4)
                    .describe("Version of the running exporters (sobot_exporter_build_info; whatever the tenant).")
                    .color("blue")
                    .no_graph()
                    .show_name()
                    .query(&per_process("sobot_exporter_build_info"), "{{version}}"),
                stat("Collectors failing", 4, 4)
                    .describe("Collectors whose last cycle failed.")
                    .steps("green", &[("red", 1.0)])
                    .no_graph()
                    .query("count(sobot_exporter_collector_success{..} == 0) or on() vector(0)", "failing"),
                stat("Oldest successful collection", 4, 4)
                    .describe("Age of the oldest last successful cycle over all collectors.")
                    .unit(Unit::Seconds)
                    .worse_above(600.0, 1800.0)
                    .query("max(time() - sobot_exporter_collector_last_success_timestamp_seconds{..})", "age"),
                stat("Series exported", 4, 4)
                    .describe("Series exported by all collectors together.")
                    .color("blue")
                    .query("sum(sobot_exporter_collector_series{..})", "series"),
                stat("Truncated collectors", 4, 4)
                    .describe("Collectors whose last cycle stopped at the page cap (data incomplete).")
                    .steps("green", &[("orange", 1.0)])
                    .no_graph()
                    .query("sum(sobot_exporter_collector_truncated{..})", "truncated"),
                stat("Agents dropped", 4, 4)
                    .describe("Agents dropped by the cardinality guard in the last cycle, all collectors.")
                    .steps("green", &[("orange", 1.0)])
                    .no_graph()
                    .query("sum(sobot_exporter_agents_dropped{..})", "dropped"),
                table("Collectors", 24, 9)
                    .describe("Per collector: last cycle result, duration, age of the last success, interval, series, truncation and dropped agents.")
                    .labels(&[("collector", "Collector")])
                    .status_column("Success", "sobot_exporter_collector_success{..}")
                    .column("Duration", Unit::Seconds, "sobot_exporter_collector_duration_seconds{..}")
                    .column("Age of last success", Unit::Seconds, "time() - sobot_exporter_collector_last_success_timestamp_seconds{..}")
                    .column("Interval", Unit::Seconds, "sobot_exporter_collector_interval_seconds{..}")
                    .column("Series", Unit::Short, "sobot_exporter_collector_series{..}")
                    .column("Truncated", Unit::Short, "sobot_exporter_collector_truncated{..}")
                    .column("Agents dropped", Unit::Short, "sobot_exporter_agents_dropped{..}"),
            ],
        )
        .row(
            "Collectors",
            vec![
                timeseries("Collector success", 8, 8)
                    .describe("1 if the collector's last cycle succeeded, 0 if it failed. Alert SobotCollectorFailing fires after 10 min at 0.")
                    .max(1.0)
                    .query("sobot_exporter_collector_success{..}", "{{collector}}"),
                timeseries("Age of last success", 8, 8)
                    .describe("Seconds since each collector's last successful cycle. Alert SobotDataStale fires above three intervals; a gap means the exporter was not scraped (SobotExporterDown).")
                    .unit(Unit::Seconds)
                    .query("time() - sobot_exporter_collector_last_success_timestamp_seconds{..}", "{{collector}}"),
                timeseries("Collector duration", 8, 8)
                    .describe("Duration of each collector's last cycle.")
                    .unit(Unit::Seconds)
                    .query("sobot_exporter_collector_duration_seconds{..}", "{{collector}}"),
                timeseries("Collector interval", 8, 8)
                    .describe("Configured interval between each collector's cycles (data is stale after three).")
                    .unit(Unit::Seconds)
                    .query("sobot_exporter_collector_interval_seconds{..}", "{{collector}}"),
                timeseries("Series per collector", 8, 8)
                    .describe("Series each collector currently exports.")
                    .query("sobot_exporter_collector_series{..}", "{{collector}}"),
                timeseries("Collector truncation", 8, 8)
                    .describe("1 if the collector's last cycle stopped at the page cap (its data is incomplete).")
                    .query("sobot_exporter_collector_truncated{..}", "{{collector}}"),
                timeseries("Agents dropped by the cardinality guard", 8, 8)
                    .describe("Agents dropped by the cardinality guard in each collector's last cycle.")
                    .query("sobot_exporter_agents_dropped{..}", "{{collector}}"),
            ],
        )
        .row(
            "Upstream",
            vec![
                timeseries("Upstream requests by endpoint and code", 8, 8)
                    .describe("Upstream API requests per second by endpoint and result code (000000 is Sobot success; other codes, http_NNN, timeout, connect and invalid_response are failures; 210017 is rate limiting).")
                    .unit(Unit::PerSecond)
                    .query("sum by (endpoint, code) (rate(sobot_exporter_upstream_requests_total{..}[$__rate_interval]))", "{{endpoint}} {{code}}"),
                timeseries("Upstream failure ratio by endpoint", 8, 8)
                    .describe("Share of upstream requests per endpoint whose code is neither 000000 (Sobot success) nor 0 (Laaffic success).")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"(sum by (endpoint) (rate(sobot_exporter_upstream_requests_total{code!~"000000|0", ..}[$__rate_interval])) or sum by (endpoint) (0 * rate(sobot_exporter_upstream_requests_total{..}[$__rate_interval]))) / sum by (endpoint) (rate(sobot_exporter_upstream_requests_total{..}[$__rate_interval]))"#, "{{endpoint}}"),
                table("Upstream requests in range", 8, 8)
                    .describe("Upstream requests by endpoint and code over the dashboard's time range.")
                    .labels(&[("endpoint", "Endpoint"), ("code", "Code")])
                    .column("Requests", Unit::Short, "sum by (endpoint, code) (increase(sobot_exporter_upstream_requests_total{..}[$__range]))"),
                timeseries("Token refreshes", 8, 8)
                    .describe("Sobot token fetches by result. Failures mean the app id or app key is wrong or the token endpoint is failing (SobotUpstreamAuthFailing).")
                    .query("sum by (result) (increase(sobot_exporter_token_refreshes_total{..}[$__rate_interval]))", "{{result}}"),
                timeseries("Parse errors", 8, 8)
                    .describe("Upstream values that did not parse (no sample exported for them), by endpoint and field; 0 when there are none.")
                    .query("sum by (endpoint, field) (increase(sobot_exporter_parse_errors_total{..}[$__rate_interval])) or on() vector(0)", "{{endpoint}} {{field}}"),
                timeseries("Answer items skipped", 8, 8)
                    .describe("List items of upstream answers not read, by endpoint: past the cap (20,000 a list; 200,000 for the platform's; SobotUpstreamItemsDropped), or a record listed again (the first one is kept); 0 when there are none.")
                    .query("sum by (endpoint) (increase(sobot_exporter_upstream_items_dropped_total{..}[$__rate_interval])) or on() vector(0)", "{{endpoint}} past the cap")
                    .query("sum by (endpoint) (increase(sobot_exporter_upstream_duplicate_items_total{..}[$__rate_interval])) or on() vector(0)", "{{endpoint}} repeated"),
            ],
        )
}
