//! "Sobot quality" (uid `sobot-quality`, `dashboards/sobot-quality.json`).

use super::*;

pub(super) fn dashboard() -> Dashboard {
    // `metric` of the selected window and agents.
    let selected = |metric: &str| format!(r#"{metric}{{window="$window", agent=~"$agent", ..}}"#);
    // Score points per inspection, and over the maximum points, per agent and channel, named.
    let avg_score = agent_named_by(
        &format!("{} / {}", selected("sobot_quality_score_points"), selected("sobot_quality_inspections")),
        &selected("sobot_quality_inspections"),
    );
    let score_ratio = agent_named_by(
        &format!(
            "{} / {}",
            selected("sobot_quality_score_points"),
            selected("sobot_quality_max_score_points")
        ),
        &selected("sobot_quality_inspections"),
    );
    Dashboard::new("sobot-quality", "Sobot quality", "Quality inspections: average score per agent and channel, score ratio, inspections per day.")
        .tenants(Tenants::One)
        .window()
        .agent()
        .top()
        .row(
            "Summary",
            vec![
                stat("Inspections", 6, 4)
                    .describe("Quality inspections of the selected agents, all channels, selected window.")
                    .color("blue")
                    .query(&format!("sum({})", selected("sobot_quality_inspections")), "inspections"),
                stat("Average quality score", 6, 4)
                    .describe("Score points per inspection over the selected agents and channels, selected window.")
                    .color("blue")
                    .query(&format!("sum({}) / sum({})", selected("sobot_quality_score_points"), selected("sobot_quality_inspections")), "avg score"),
                stat("Quality score ratio", 6, 4)
                    .describe("Score points over maximum score points, selected agents and channels, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.7, 0.85)
                    .query(&format!("sum({}) / sum({})", selected("sobot_quality_score_points"), selected("sobot_quality_max_score_points")), "score ratio"),
                bars("Inspections by channel", 6, 4)
                    .describe("Quality inspections per channel (chat, call), selected window.")
                    .color("blue")
                    .query(&format!("sum by (channel) ({})", selected("sobot_quality_inspections")), "{{channel}}"),
            ],
        )
        .row(
            "Per agent",
            vec![
                table("Quality per agent and channel", 24, 10)
                    .describe("One row per agent and channel, selected window: inspections, average score (points per inspection), score ratio (points over maximum points).")
                    .labels(&[("name", "Name"), ("agent", "Agent id"), ("channel", "Channel")])
                    .column("Inspections", Unit::Short, &agent_named(&selected("sobot_quality_inspections")))
                    .column("Avg score", Unit::Short, &avg_score)
                    .column("Score ratio", Unit::Percent, &score_ratio)
                    .column("Score points", Unit::Short, &agent_named(&selected("sobot_quality_score_points")))
                    .column("Max score points", Unit::Short, &agent_named(&selected("sobot_quality_max_score_points"))),
                timeseries("Average quality score per agent and channel (lowest $top)", 12, 8)
                    .describe("Score points per inspection, per agent and channel, selected window. Only the lowest $top agents at each point in time (bottomk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .query(&bottom(&avg_score), "{{name}} {{channel}}"),
                timeseries("Quality score ratio per agent and channel (lowest $top)", 12, 8)
                    .describe("Score points over maximum score points, per agent and channel, selected window. Only the lowest $top agents at each point in time (bottomk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(&bottom(&score_ratio), "{{name}} {{channel}}"),
                timeseries("Inspections per agent (top $top)", 8, 8)
                    .describe("Quality inspections per agent and channel, selected window. Only the highest $top agents at each point in time (topk), so the panel stays readable at 2,000 agents; pick one with the variable to see it.")
                    .query(&top(&agent_named(&selected("sobot_quality_inspections"))), "{{name}} {{channel}}"),
                bars("Lowest $top average quality scores", 8, 8)
                    .describe("The $top agent/channel pairs with the lowest score points per inspection, selected window.")
                    .color("orange")
                    .query(&bottom(&avg_score), "{{name}} {{channel}}"),
            ],
        )
        .row(
            "Per day and part of the form",
            vec![
                timeseries("Inspections per day", 8, 8)
                    .describe("Quality inspections per channel for today (so far) and yesterday.")
                    .query(r#"sum by (channel, window) (sobot_quality_inspections{window=~"today|yesterday", agent=~"$agent", ..})"#, "{{channel}} {{window}}"),
                bars("Score points by part", 12, 8)
                    .describe("Score points by part of the quality form (standard, add, minus), selected window.")
                    .color("blue")
                    .query(&format!("sum by (part) ({})", selected("sobot_quality_part_score_points")), "{{part}}"),
                bars("Score ratio by part", 12, 8)
                    .describe("Score points over maximum score points by part of the quality form, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .color("blue")
                    .query(&format!("sum by (part) ({}) / sum by (part) ({})", selected("sobot_quality_part_score_points"), selected("sobot_quality_part_max_score_points")), "{{part}}"),
            ],
        )
}
