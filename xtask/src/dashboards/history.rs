//! The overview's history row: each day's and each hour's figures of the `window="today"` series,
//! read so that samples an hour apart (`sobot_exporter backfill`, docs/backfill.md) show as well as
//! live ones.
//!
//! An instant query looks back 5 minutes, so between backfilled samples it finds nothing. Each
//! figure is instead the last sample in the range before a step: `last_over_time(…[1d])` at 1-day
//! steps is the day's final figure, `last_over_time(…[1h])` at 1-hour steps the day so far at each
//! hour. Not `max_over_time(…[1d])`: live, the first cycle after midnight still holds the day
//! before's figures, so a day's highest count can be the day before's.

use super::*;

pub(super) const TITLE: &str = "History (day by day, hour by hour)";

const DAY: &str = "Each day's final figure, last 30 days: last_over_time(…{window=\"today\"}[1d]) at 1-day steps, the day's last sample (backfilled: the one a second before midnight; live: the last cycle before midnight). A point at midnight is the day that ended then. Grafana puts the steps on midnight in the dashboard's time zone: set it to the exporter's (timezone, default Asia/Shanghai), or a point mixes two days.";

const HOUR: &str = "The day so far at each hour of the dashboard's range: last_over_time(…{window=\"today\"}[1h]) at 1-hour steps, so the point at 14:00 is the figure just before 14:00 (backfilled samples, a second before each hour, are an hour apart: beyond Prometheus's 5-minute lookback).";

/// The last sample in `range` before each step of `sobot_<field>{window="today"}`, or with groups
/// selected of each selected group's `sobot_group_<field>`: [`company_or_groups`] with the groups'
/// absence taken over `range` too: an instant `absent` finds no group between samples.
fn last(field: &str, range: &str) -> String {
    format!(
        r#"(last_over_time(sobot_{field}{{window="today", ..}}[{range}])) and on() absent_over_time(sobot_group_human_consult_sessions{{window="today", group!~"$group", ..}}[{range}]) or on() (last_over_time(sobot_group_{field}{{window="today", group=~"$group", ..}}[{range}]))"#
    )
}

/// The robot's `sobot_robot_<field>`, company-wide: the robot has no skill group.
fn robot(field: &str, range: &str) -> String {
    format!(r#"last_over_time(sobot_robot_{field}{{window="today", ..}}[{range}])"#)
}

pub(super) fn panels() -> Vec<Panel> {
    let day = |title: &str, what: &str| {
        timeseries(title, 6, 8).step("1d", Some("30d")).describe(&format!("{what} {DAY}"))
    };
    let hour = |title: &str, what: &str| {
        timeseries(title, 8, 8).step("1h", None).describe(&format!("{what} {HOUR}"))
    };
    let (d, h) = ("1d", "1h");
    vec![
        day("Sessions per day", "Human consultation sessions (per selected group with groups selected) and robot consultation sessions (company-wide).")
            .query(&last("human_consult_sessions", d), "human {{group}}")
            .query(&robot("consult_sessions", d), "robot"),
        day("Human reception per day", "Valid reception, not received and queue accept ratios of human sessions (per selected group with groups selected).")
            .unit(Unit::Percent)
            .min(0.0)
            .max(1.0)
            .query(&last("human_valid_reception_ratio", d), "valid reception {{group}}")
            .query(&last("human_not_received_ratio", d), "not received {{group}}")
            .query(&last("human_queue_accept_ratio", d), "queue accept {{group}}"),
        day("Reviews per day", "Good and bad review ratios of human-session satisfaction evaluations (per selected group with groups selected).")
            .unit(Unit::Percent)
            .min(0.0)
            .max(1.0)
            .query(&last("human_satisfaction_good_review_ratio", d), "good {{group}}")
            .query(&last("human_satisfaction_bad_review_ratio", d), "bad {{group}}"),
        day("Queue wait and response time per day", "Average queue wait and average agent response time of human sessions (per selected group with groups selected).")
            .unit(Unit::Seconds)
            .query(&last("human_avg_queue_wait_seconds", d), "queue wait {{group}}")
            .query(&last("human_avg_response_time_seconds", d), "response time {{group}}"),
        hour("Sessions by the hour (day so far)", "Human consultation sessions (per selected group with groups selected) and robot consultation sessions (company-wide).")
            .query(&last("human_consult_sessions", h), "human {{group}}")
            .query(&robot("consult_sessions", h), "robot"),
        hour("Not received and bad reviews by the hour (day so far)", "Not received ratio of human sessions and bad review ratio of their evaluations (per selected group with groups selected).")
            .unit(Unit::Percent)
            .min(0.0)
            .max(1.0)
            .query(&last("human_not_received_ratio", h), "not received {{group}}")
            .query(&last("human_satisfaction_bad_review_ratio", h), "bad reviews {{group}}"),
        hour("Queue wait and response time by the hour (day so far)", "Average queue wait and average agent response time of human sessions (per selected group with groups selected).")
            .unit(Unit::Seconds)
            .query(&last("human_avg_queue_wait_seconds", h), "queue wait {{group}}")
            .query(&last("human_avg_response_time_seconds", h), "response time {{group}}"),
    ]
}
