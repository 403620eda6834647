//! "Sobot service overview" (uid `sobot-overview`, `dashboards/sobot-overview.json`).

use super::*;

pub(super) fn dashboard(s: &Settings) -> Dashboard {
    Dashboard::new("sobot-overview", "Sobot service overview", "Robot deflection, human reception, queue, response times, satisfaction and message load from the Sobot statistics API; today against yesterday.")
        .tenants(Tenants::One)
        .window()
        .group("sobot_group_human_consult_sessions")
        .row(
            "Now",
            vec![
                stat("Human sessions", 4, 4)
                    .describe("Human consultation sessions, selected window. With groups selected, one value per group (sobot_group_*).")
                    .color("blue")
                    .query(&by_group("human_consult_sessions"), "{{group}}"),
                stat("Human valid reception ratio", 4, 4)
                    .describe("Share of human sessions that were validly received by an agent, selected window. With groups selected, one value per group (sobot_group_*).")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.6, 0.8)
                    .query(&by_group("human_valid_reception_ratio"), "{{group}}"),
                stat("Human not received ratio", 4, 4)
                    .describe(&format!("Not received over valid human sessions: last 15 minutes (recording rule, shown once {} sessions arrived in them; the alert's figure) and the selected window. Alert SobotHumanNotReceivedHigh fires above {} for 10 minutes.", s.min_sessions, percent(NOT_RECEIVED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(NOT_RECEIVED)
                    .query(&by_group_rule("human_not_received:ratio15m"), "last 15 min {{group}}")
                    .query(&by_group("human_not_received_ratio"), "$window {{group}}"),
                stat("Queue abandonment", 4, 4)
                    .describe(&format!("Sessions that left the queue over human consultation sessions of the last 15 minutes (a lower bound of abandonment: the API has no count of queued sessions; shown from {} consultations), and 1 − queue accept ratio today. Alert SobotQueueAbandonmentHigh fires above {} for 10 minutes.", s.min_sessions, percent(QUEUE_ABANDONED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .alert_at(QUEUE_ABANDONED)
                    .query(&by_group_rule("human_queue_abandoned_per_consult:ratio15m"), "left queue / consults, 15 min {{group}}")
                    .query(&by_group_rule("human_queue_not_connected:ratio_today"), "not connected today {{group}}"),
                stat("Average queue wait", 4, 4)
                    .describe("Average time customers waited in the queue before an agent accepted them, selected window. With groups selected, one value per group (sobot_group_*).")
                    .unit(Unit::Seconds)
                    .worse_above(30.0, 120.0)
                    .query(&by_group("human_avg_queue_wait_seconds"), "{{group}}"),
                stat("Average response time", 4, 4)
                    .describe(&format!("Average agent response time in human sessions, selected window. Alert SobotResponseTimeSlow fires above {} s (today, from {} valid receptions). With groups selected, one value per group (sobot_group_*).", RESPONSE_TIME.alert, s.min_sessions))
                    .unit(Unit::Seconds)
                    .alert_at(RESPONSE_TIME)
                    .query(&by_group("human_avg_response_time_seconds"), "{{group}}"),
                stat("Service level (30 s)", 4, 4)
                    .describe("Agent replies within 30 seconds, weighted by each agent's valid receptions, today (KPI sobot:agent_response_in_30s:ratio_today; per group with groups selected).")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.8, 0.9)
                    .query(&by_group_rule("agent_response_in_30s:ratio_today"), "{{group}}"),
                stat("Average handle time", 4, 4)
                    .describe("Average human session duration today (KPI sobot:human_handle_time_seconds:avg_today; per group with groups selected).")
                    .unit(Unit::Seconds)
                    .query(&by_group_rule("human_handle_time_seconds:avg_today"), "{{group}}"),
                stat("Good review ratio", 4, 4)
                    .describe("Share of satisfaction evaluations that were good reviews, selected window. With groups selected, one value per group (sobot_group_*).")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.7, 0.85)
                    .query(&by_group("human_satisfaction_good_review_ratio"), "{{group}}"),
                stat("Bad review ratio", 4, 4)
                    .describe(&format!("Bad reviews over evaluations: last hour (recording rule, from {} evaluations; the alert's figure) and the selected window. Alert SobotBadReviewRatioHigh fires above {} for 15 minutes.", s.min_evaluations, percent(BAD_REVIEWS.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(BAD_REVIEWS)
                    .query(&by_group_rule("human_satisfaction_bad_review:ratio1h"), "last hour {{group}}")
                    .query(&by_group("human_satisfaction_bad_review_ratio"), "$window {{group}}"),
                stat("Average satisfaction score", 4, 4)
                    .describe("Average satisfaction score given by customers in human sessions, selected window. With groups selected, one value per group (sobot_group_*).")
                    .color("blue")
                    .query(&by_group("human_satisfaction_avg_score"), "{{group}}"),
                stat("Robot sessions", 4, 4)
                    .describe("Robot consultation sessions, selected window. Company-wide: the robot has no skill group.")
                    .color("blue")
                    .query(r#"sobot_robot_consult_sessions{window="$window", ..}"#, "robot sessions"),
                stat("Robot self-reception ratio", 4, 4)
                    .describe("Share of robot sessions the robot handled alone (no transfer to a human), selected window. Company-wide: the robot has no skill group.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .steps("orange", &[("green", 0.4)])
                    .query(r#"sobot_robot_self_reception_ratio{window="$window", ..}"#, "self-reception"),
                stat("Robot to-human ratio", 4, 4)
                    .describe(&format!("Robot sessions transferred to a human: last 15 minutes (recording rule, from {} robot sessions; the alert's figure) and the selected window. Company-wide. Alert SobotRobotTransferToHumanHigh fires above {} for 15 minutes.", s.min_sessions, percent(ROBOT_TO_HUMAN.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(ROBOT_TO_HUMAN)
                    .query("sobot:robot_to_human:ratio15m{..}", "last 15 min")
                    .query(r#"sobot_robot_to_human_ratio{window="$window", ..}"#, "$window"),
            ],
        )
        .row(
            "Groups",
            vec![
                table("Groups", 24, 9)
                    .describe("Per skill group, selected window: human sessions, valid reception, queue accept, response time and satisfaction.")
                    .labels(&[("group", "Group")])
                    .column("Human sessions", Unit::Short, r#"sobot_group_human_consult_sessions{window="$window", group=~"$group", ..}"#)
                    .column("Valid sessions", Unit::Short, r#"sobot_group_human_valid_sessions{window="$window", group=~"$group", ..}"#)
                    .column("Valid reception", Unit::Percent, r#"sobot_group_human_valid_reception_ratio{window="$window", group=~"$group", ..}"#)
                    .column("Queue accept", Unit::Percent, r#"sobot_group_human_queue_accept_ratio{window="$window", group=~"$group", ..}"#)
                    .column("Queue wait", Unit::Seconds, r#"sobot_group_human_avg_queue_wait_seconds{window="$window", group=~"$group", ..}"#)
                    .column("Response time", Unit::Seconds, r#"sobot_group_human_avg_response_time_seconds{window="$window", group=~"$group", ..}"#)
                    .column("Good reviews", Unit::Percent, r#"sobot_group_human_satisfaction_good_review_ratio{window="$window", group=~"$group", ..}"#)
                    .column("Bad reviews", Unit::Percent, r#"sobot_group_human_satisfaction_bad_review_ratio{window="$window", group=~"$group", ..}"#)
                    .column("Avg score", Unit::Short, r#"sobot_group_human_satisfaction_avg_score{window="$window", group=~"$group", ..}"#),
                timeseries("Group not received ratio", 6, 8)
                    .describe(&format!("Not received over valid human sessions per group: last 15 minutes (from {} sessions) and the selected window. Alert above {}.", s.min_sessions, percent(NOT_RECEIVED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(NOT_RECEIVED)
                    .threshold_line()
                    .legend_table()
                    .query(r#"sobot_group:human_not_received:ratio15m{group=~"$group", ..}"#, "{{group}} 15 min")
                    .query(r#"sobot_group_human_not_received_ratio{window="$window", group=~"$group", ..}"#, "{{group}} $window"),
                timeseries("Group queue abandonment", 6, 8)
                    .describe(&format!("Sessions that left the queue over human consultation sessions per group: last 15 minutes (from {}) and the selected window. Alert above {}.", s.min_sessions, percent(QUEUE_ABANDONED.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(QUEUE_ABANDONED)
                    .threshold_line()
                    .legend_table()
                    .query(r#"sobot_group:human_queue_abandoned_per_consult:ratio15m{group=~"$group", ..}"#, "{{group}} 15 min")
                    .query(r#"sobot_group_human_queue_abandoned_sessions{window="$window", group=~"$group", ..} / (sobot_group_human_consult_sessions{window="$window", group=~"$group", ..} > 0)"#, "{{group}} $window"),
                timeseries("Group bad review ratio", 6, 8)
                    .describe(&format!("Bad reviews over evaluations per group: last hour (from {} evaluations) and the selected window. Alert above {}.", s.min_evaluations, percent(BAD_REVIEWS.alert)))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .alert_at(BAD_REVIEWS)
                    .threshold_line()
                    .query(r#"sobot_group:human_satisfaction_bad_review:ratio1h{group=~"$group", ..}"#, "{{group}} last hour")
                    .query(r#"sobot_group_human_satisfaction_bad_review_ratio{window="$window", group=~"$group", ..}"#, "{{group}} $window"),
                timeseries("Group service level (30 s)", 6, 8)
                    .describe("Agent replies within 30 s per group, weighted by valid receptions, today.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .legend_table()
                    .query(r#"sobot_group:agent_response_in_30s:ratio_today{group=~"$group", ..}"#, "{{group}}"),
                timeseries("Group human sessions", 6, 8)
                    .describe("Human consultation sessions per group, selected window.")
                    .query(r#"sobot_group_human_consult_sessions{window="$window", group=~"$group", ..}"#, "{{group}}"),
                timeseries("Group queue accept ratio", 6, 8)
                    .describe("Queue accept ratio per group, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_group_human_queue_accept_ratio{window="$window", group=~"$group", ..}"#, "{{group}}"),
                timeseries("Group average response time", 6, 8)
                    .describe(&format!("Average agent response time per group, selected window. Alert above {} s (today).", RESPONSE_TIME.alert))
                    .unit(Unit::Seconds)
                    .alert_at(RESPONSE_TIME)
                    .threshold_line()
                    .query(r#"sobot_group_human_avg_response_time_seconds{window="$window", group=~"$group", ..}"#, "{{group}}"),
            ],
        )
        .row(
            "Robot and human sessions, today vs yesterday",
            vec![
                timeseries("Robot deflection, today vs yesterday", 8, 8)
                    .describe("Robot self-reception ratio (handled by the robot alone) and to-human ratio (transferred to an agent), today and yesterday.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_robot_self_reception_ratio{window=~"today|yesterday", ..}"#, "self-reception {{window}}")
                    .query(r#"sobot_robot_to_human_ratio{window=~"today|yesterday", ..}"#, "to human {{window}}"),
                timeseries("Robot sessions, today vs yesterday", 8, 8)
                    .describe("Robot consultation sessions and their valid sessions, today and yesterday (cumulative over the day).")
                    .query(r#"sobot_robot_consult_sessions{window=~"today|yesterday", ..}"#, "consult {{window}}")
                    .query(r#"sobot_robot_valid_sessions{window=~"today|yesterday", ..}"#, "valid {{window}}")
                    .query(r#"sobot_robot_to_human_sessions{window=~"today|yesterday", ..}"#, "to human {{window}}"),
                timeseries("Human sessions, today vs yesterday", 8, 8)
                    .describe("Human consultation sessions, valid sessions and sessions no agent received, today and yesterday (cumulative over the day).")
                    .query(r#"sobot_human_consult_sessions{window=~"today|yesterday", ..}"#, "consult {{window}}")
                    .query(r#"sobot_human_valid_sessions{window=~"today|yesterday", ..}"#, "valid {{window}}")
                    .query(r#"sobot_human_not_received_sessions{window=~"today|yesterday", ..}"#, "not received {{window}}"),
                timeseries("Human reception ratios, today vs yesterday", 8, 8)
                    .describe("Valid reception ratio and not-received ratio of human sessions, today and yesterday.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_human_valid_reception_ratio{window=~"today|yesterday", ..}"#, "valid reception {{window}}")
                    .query(r#"sobot_human_not_received_ratio{window=~"today|yesterday", ..}"#, "not received {{window}}"),
                timeseries("Queue accept ratio, today vs yesterday", 8, 8)
                    .describe("Share of queued sessions connected to an agent (排队接入率), today and yesterday. The 'accept ratio' of all human sessions is a different figure and is not shown here.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .steps("red", &[("green", 0.8)])
                    .threshold_line()
                    .query(r#"sobot_human_queue_accept_ratio{window=~"today|yesterday", ..}"#, "queue accept {{window}}"),
                timeseries("Queue wait and response time, today vs yesterday", 8, 8)
                    .describe("Average queue wait and average agent response time in human sessions, today and yesterday.")
                    .unit(Unit::Seconds)
                    .query(r#"sobot_human_avg_queue_wait_seconds{window=~"today|yesterday", ..}"#, "queue wait {{window}}")
                    .query(r#"sobot_human_avg_response_time_seconds{window=~"today|yesterday", ..}"#, "response time {{window}}"),
                timeseries("Session duration, today vs yesterday", 8, 8)
                    .describe("Average robot session, human session and customer reception duration, today and yesterday.")
                    .unit(Unit::Seconds)
                    .query(r#"sobot_robot_avg_session_duration_seconds{window=~"today|yesterday", ..}"#, "robot session {{window}}")
                    .query(r#"sobot_human_avg_session_duration_seconds{window=~"today|yesterday", ..}"#, "human session {{window}}")
                    .query(r#"sobot_customer_avg_reception_duration_seconds{window=~"today|yesterday", ..}"#, "customer reception {{window}}"),
                timeseries("Transfers and concurrency, today vs yesterday", 8, 8)
                    .describe("Sessions transferred in and out between agents and the maximum number of concurrent human sessions, today and yesterday.")
                    .query(r#"sobot_human_transfer_in_sessions{window=~"today|yesterday", ..}"#, "transfer in {{window}}")
                    .query(r#"sobot_human_transfer_out_sessions{window=~"today|yesterday", ..}"#, "transfer out {{window}}")
                    .query(r#"sobot_human_max_concurrent_sessions{window=~"today|yesterday", ..}"#, "max concurrent {{window}}"),
            ],
        )
        .row(
            "Satisfaction",
            vec![
                timeseries("Review ratios, today vs yesterday", 8, 8)
                    .describe("Good, neutral and bad review ratios of human-session satisfaction evaluations, today and yesterday.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_human_satisfaction_good_review_ratio{window=~"today|yesterday", ..}"#, "good {{window}}")
                    .query(r#"sobot_human_satisfaction_neutral_review_ratio{window=~"today|yesterday", ..}"#, "neutral {{window}}")
                    .query(r#"sobot_human_satisfaction_bad_review_ratio{window=~"today|yesterday", ..}"#, "bad {{window}}"),
                timeseries("Average satisfaction score, today vs yesterday", 8, 8)
                    .describe("Average satisfaction score of human sessions, today and yesterday.")
                    .query(r#"sobot_human_satisfaction_avg_score{window=~"today|yesterday", ..}"#, "score {{window}}"),
                timeseries("Satisfaction evaluation and solved ratios, today vs yesterday", 8, 8)
                    .describe("Share of human sessions evaluated, share marked solved (human and robot), today and yesterday.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_human_satisfaction_evaluation_ratio{window=~"today|yesterday", ..}"#, "human evaluated {{window}}")
                    .query(r#"sobot_human_satisfaction_solved_ratio{window=~"today|yesterday", ..}"#, "human solved {{window}}")
                    .query(r#"sobot_robot_satisfaction_solved_ratio{window=~"today|yesterday", ..}"#, "robot solved {{window}}"),
                bars("Satisfaction score distribution", 8, 8)
                    .describe("Human-session satisfaction evaluations by score, selected window.")
                    .color("blue")
                    .query(r#"sum by (score) (sobot_human_satisfaction_score_evaluations{window="$window", ..})"#, "score {{score}}"),
            ],
        )
        .row(
            "Message load",
            vec![
                timeseries("Message load, today vs yesterday", 8, 8)
                    .describe("Messages by sender (customer, agent, robot), today and yesterday (cumulative over the day).")
                    .query(r#"sobot_messages_customer{window=~"today|yesterday", ..}"#, "customer {{window}}")
                    .query(r#"sobot_messages_agent{window=~"today|yesterday", ..}"#, "agent {{window}}")
                    .query(r#"sobot_messages_robot{window=~"today|yesterday", ..}"#, "robot {{window}}"),
                timeseries("Messages per session, today vs yesterday", 8, 8)
                    .describe("Average messages per session: all, customer and agent messages, today and yesterday.")
                    .query(r#"sobot_messages_per_session_avg{window=~"today|yesterday", ..}"#, "all {{window}}")
                    .query(r#"sobot_messages_customer_per_session_avg{window=~"today|yesterday", ..}"#, "customer {{window}}")
                    .query(r#"sobot_messages_agent_per_session_avg{window=~"today|yesterday", ..}"#, "agent {{window}}"),
                timeseries("Message answer ratio, today vs yesterday", 8, 8)
                    .describe("Message answer ratio reported by Sobot, today and yesterday.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"sobot_messages_answer_ratio{window=~"today|yesterday", ..}"#, "answer {{window}}"),
            ],
        )
        .row(history::TITLE, history::panels())
}
