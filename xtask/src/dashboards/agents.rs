//! "Sobot agents" (uid `sobot-agents`, `dashboards/sobot-agents.json`).

use super::*;

pub(super) fn dashboard() -> Dashboard {
    // `metric` of the selected window, groups and agents.
    let selected =
        |metric: &str| format!(r#"{metric}{{window="$window", group=~"$group", agent=~"$agent", ..}}"#);
    // `metric` of the selected window and agents, for the times, which have no group label.
    let timed = |metric: &str| format!(r#"{metric}{{window="$window", agent=~"$agent", ..}}"#);
    // The mean of the 1–5 score evaluations per agent, named.
    let avg_score = agent_named_by(
        r#"(sum without (score) (sobot_agent_score_evaluations{score="1", window="$window", group=~"$group", agent=~"$agent", ..}) + 2 * sum without (score) (sobot_agent_score_evaluations{score="2", window="$window", group=~"$group", agent=~"$agent", ..}) + 3 * sum without (score) (sobot_agent_score_evaluations{score="3", window="$window", group=~"$group", agent=~"$agent", ..}) + 4 * sum without (score) (sobot_agent_score_evaluations{score="4", window="$window", group=~"$group", agent=~"$agent", ..}) + 5 * sum without (score) (sobot_agent_score_evaluations{score="5", window="$window", group=~"$group", agent=~"$agent", ..})) / sum without (score) (sobot_agent_score_evaluations{window="$window", group=~"$group", agent=~"$agent", ..})"#,
        &selected("sobot_agent_evaluations"),
    );
    Dashboard::new("sobot-agents", "Sobot agents", "Per-agent service data (sessions, first response, 30 s answer ratio, scores) and login/state times; names from sobot_agent_info.")
        .tenants(Tenants::One)
        .window()
        .group("sobot_agent_valid_sessions")
        .agent()
        .top()
        .row(
            "Summary",
            vec![
                stat("Agents", 4, 4)
                    .describe("Agents with service data in the selected window and groups.")
                    .color("blue")
                    .query(&format!("count(count by (agent) ({}))", selected("sobot_agent_valid_sessions")), "agents"),
                stat("Valid sessions", 4, 4)
                    .describe("Valid sessions of the selected agents, selected window.")
                    .color("blue")
                    .query(&format!("sum({})", selected("sobot_agent_valid_sessions")), "valid sessions"),
                stat("Not received sessions", 4, 4)
                    .describe("Sessions assigned to the selected agents that they did not receive, selected window.")
                    .steps("green", &[("orange", 1.0)])
                    .query(&format!("sum({})", selected("sobot_agent_not_received_sessions")), "not received"),
                stat("Lowest 30 s answer ratio", 4, 4)
                    .describe("Lowest share of sessions answered within 30 s among the selected agents, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.6, 0.8)
                    .query(&format!("min({})", selected("sobot_agent_response_in_30s_ratio")), "min 30 s answer"),
                stat("Slowest first response", 4, 4)
                    .describe("Highest average first response time among the selected agents, selected window.")
                    .unit(Unit::Seconds)
                    .worse_above(30.0, 60.0)
                    .query(&format!("max({})", selected("sobot_agent_avg_first_response_time_seconds")), "max first response"),
                stat("Evaluations", 4, 4)
                    .describe("Satisfaction evaluations received by the selected agents, selected window.")
                    .color("blue")
                    .query(&format!("sum({})", selected("sobot_agent_evaluations")), "evaluations"),
            ],
        )
        .row(
            "Service per agent",
            vec![
                table("Agent service summary", 24, 10)
                    .describe("One row per agent and group, selected window; names from sobot_agent_info (the agent id when no name is known). Average score is the mean of the 1–5 score evaluations.")
                    .labels(&[("name", "Name"), ("agent", "Agent id"), ("group", "Group")])
                    .column("Valid sessions", Unit::Short, &agent_named(&selected("sobot_agent_valid_sessions")))
                    .column("Valid receptions", Unit::Short, &agent_named(&selected("sobot_agent_valid_reception_sessions")))
                    .column("Not received", Unit::Short, &agent_named(&selected("sobot_agent_not_received_sessions")))
                    .column("Invalid receptions", Unit::Short, &agent_named(&selected("sobot_agent_invalid_reception_sessions")))
                    .column("Transferred out", Unit::Short, &agent_named(&selected("sobot_agent_transfer_out_sessions")))
                    .column("First response", Unit::Seconds, &agent_named(&selected("sobot_agent_avg_first_response_time_seconds")))
                    .column("Answered in 30 s", Unit::Percent, &agent_named(&selected("sobot_agent_response_in_30s_ratio")))
                    .column("Transfer first response", Unit::Percent, &agent_named(&selected("sobot_agent_transfer_first_response_ratio")))
                    .column("Evaluations", Unit::Short, &agent_named(&selected("sobot_agent_evaluations")))
                    .column("Avg score", Unit::Short, &avg_score),
                timeseries("Valid sessions per agent (top $top)", 8, 8)
                    .describe("Valid sessions per agent (and group), selected window; cumulative over the day. Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .query(&top(&agent_named(&selected("sobot_agent_valid_sessions"))), "{{name}} ({{group}})"),
                timeseries("First response time per agent (top $top)", 8, 8)
                    .describe("Average first response time per agent, selected window. Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Seconds)
                    .steps("green", &[("red", 60.0)])
                    .threshold_line()
                    .query(&top(&agent_named(&selected("sobot_agent_avg_first_response_time_seconds"))), "{{name}} ({{group}})"),
                timeseries("30 s answer ratio per agent (lowest $top)", 8, 8)
                    .describe("Share of sessions the agent answered within 30 s, selected window. Only the lowest $top agents at each point in time (bottomk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(&bottom(&agent_named(&selected("sobot_agent_response_in_30s_ratio"))), "{{name}} ({{group}})"),
                timeseries("Average score per agent (lowest $top)", 8, 8)
                    .describe("Mean satisfaction score (1–5) per agent from the score evaluations, selected window. Only the lowest $top agents at each point in time (bottomk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .query(&bottom(&avg_score), "{{name}} ({{group}})"),
                bars("Score distribution", 8, 8)
                    .describe("Satisfaction evaluations of the selected agents by score (1–5), selected window.")
                    .color("blue")
                    .query(&format!("sum by (score) ({})", selected("sobot_agent_score_evaluations")), "score {{score}}"),
                timeseries("Not received sessions per agent (top $top)", 8, 8)
                    .describe("Sessions assigned to the agent that the agent did not receive, selected window. Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .query(&top(&agent_named(&selected("sobot_agent_not_received_sessions"))), "{{name}} ({{group}})"),
            ],
        )
        .row(
            "Top and bottom performers",
            vec![
                bars("Top $top agents by valid sessions", 6, 8)
                    .describe("The $top agents with the most valid sessions, selected window.")
                    .query(&top(&agent_named(&selected("sobot_agent_valid_sessions"))), "{{name}} ({{group}})"),
                bars("Bottom $top agents by valid sessions", 6, 8)
                    .describe("The $top agents with the fewest valid sessions, selected window.")
                    .color("orange")
                    .query(&bottom(&agent_named(&selected("sobot_agent_valid_sessions"))), "{{name}} ({{group}})"),
                bars("Bottom $top agents by 30 s answer ratio", 6, 8)
                    .describe("The $top agents with the lowest share of sessions answered within 30 s, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .worse_below(0.6, 0.8)
                    .query(&bottom(&agent_named(&selected("sobot_agent_response_in_30s_ratio"))), "{{name}} ({{group}})"),
                bars("Slowest $top agents by first response time", 6, 8)
                    .describe("The $top agents with the highest average first response time, selected window.")
                    .unit(Unit::Seconds)
                    .worse_above(30.0, 60.0)
                    .query(&top(&agent_named(&selected("sobot_agent_avg_first_response_time_seconds"))), "{{name}} ({{group}})"),
            ],
        )
        .row(
            "Time (no group label)",
            vec![
                table("Agent time summary", 24, 10)
                    .describe("Login, online and state times per agent, selected window. These metrics have no group label: the group filter does not apply here.")
                    .labels(&[("name", "Name"), ("agent", "Agent id")])
                    .column("Login", Unit::Seconds, &agent_named(&timed("sobot_agent_login_seconds")))
                    .column("Online", Unit::Seconds, &agent_named(&timed("sobot_agent_online_seconds")))
                    .column("Busy", Unit::Seconds, &agent_named(&timed("sobot_agent_busy_seconds")))
                    .column("Break", Unit::Seconds, &agent_named(&timed("sobot_agent_break_seconds")))
                    .column("Training", Unit::Seconds, &agent_named(&timed("sobot_agent_training_seconds")))
                    .column("Meal", Unit::Seconds, &agent_named(&timed("sobot_agent_meal_seconds")))
                    .column("Meeting", Unit::Seconds, &agent_named(&timed("sobot_agent_meeting_seconds")))
                    .column("Activity", Unit::Seconds, &agent_named(&timed("sobot_agent_activity_seconds"))),
                timeseries("Login time per agent (top $top)", 6, 8)
                    .describe("Time logged in per agent, selected window (no group label: the group filter does not apply). Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Seconds)
                    .query(&top(&agent_named(&timed("sobot_agent_login_seconds"))), "{{name}}"),
                timeseries("Online time per agent (top $top)", 6, 8)
                    .describe("Time in the online state per agent, selected window (no group label: the group filter does not apply). Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Seconds)
                    .query(&top(&agent_named(&timed("sobot_agent_online_seconds"))), "{{name}}"),
                timeseries("Busy time per agent (top $top)", 6, 8)
                    .describe("Time in the busy state per agent, selected window (no group label: the group filter does not apply). Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Seconds)
                    .query(&top(&agent_named(&timed("sobot_agent_busy_seconds"))), "{{name}}"),
                timeseries("Break time per agent (top $top)", 6, 8)
                    .describe("Time on break per agent, selected window (no group label: the group filter does not apply). Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Seconds)
                    .query(&top(&agent_named(&timed("sobot_agent_break_seconds"))), "{{name}}"),
                bars("Top $top agents by online time", 12, 8)
                    .describe("The $top agents with the most online time, selected window.")
                    .unit(Unit::Seconds)
                    .query(&top(&agent_named(&timed("sobot_agent_online_seconds"))), "{{name}}"),
                bars("Top $top agents by break time", 12, 8)
                    .describe("The $top agents with the most break time, selected window.")
                    .unit(Unit::Seconds)
                    .color("orange")
                    .query(&top(&agent_named(&timed("sobot_agent_break_seconds"))), "{{name}}"),
            ],
        )
}
