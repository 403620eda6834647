//! "Laaffic call center" (uid `laaffic-callcenter`, `dashboards/laaffic-callcenter.json`).

use super::*;

pub(super) fn dashboard(s: &Settings) -> Dashboard {
    // `metric` of the selected groups and window.
    let selected = |metric: &str| format!(r#"{metric}{{group=~"$group", window="$window", ..}}"#);
    Dashboard::new("laaffic-callcenter", "Laaffic call center", "Laaffic seats by status, occupancy, calls and connect ratios per group and seat.")
        .tags(&["sobot", "laaffic"])
        .from("now-12h")
        .window()
        .group("laaffic_seat_status")
        .top()
        .row(
            "Seats now",
            vec![
                stat("Seats online", 4, 4)
                    .describe("Seats in any state other than offline, selected groups, now.")
                    .color("blue")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status!="offline", ..})"#, "online"),
                stat("Idle seats", 4, 4)
                    .describe("Seats idle (available for calls), selected groups, now.")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status="idle", ..})"#, "idle"),
                stat("Busy seats", 4, 4)
                    .describe("Seats on a call, selected groups, now.")
                    .color("orange")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status="busy", ..})"#, "busy"),
                stat("Wrap-up seats", 4, 4)
                    .describe("Seats in after-call work, selected groups, now.")
                    .color("yellow")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status="wrap_up", ..})"#, "wrap-up"),
                stat("Seats on break", 4, 4)
                    .describe("Seats on break, selected groups, now.")
                    .color("purple")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status="break", ..})"#, "break"),
                gauge("Occupancy", 4, 4)
                    .describe("(busy + wrap-up) / seats not offline, now: laaffic:seat_occupancy:ratio, or per group (laaffic_group:seat_occupancy:ratio) with groups selected.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .worse_above(0.8, 0.95)
                    .query(r#"(laaffic:seat_occupancy:ratio{..}) and on() absent(laaffic_seat_status{group!~"$group", ..}) or on() (laaffic_group:seat_occupancy:ratio{group=~"$group", ..})"#, "{{group}}"),
                stat("Enabled seats", 4, 4)
                    .describe("Seats enabled in Laaffic, selected groups.")
                    .color("blue")
                    .query(r#"sum(laaffic_seat_enabled{group=~"$group", ..})"#, "enabled"),
                stat("Offline seats", 4, 4)
                    .describe("Seats offline, selected groups, now.")
                    .color("text")
                    .query(r#"sum(laaffic_seat_status{group=~"$group", status="offline", ..})"#, "offline"),
            ],
        )
        .row(
            "Calls",
            vec![
                stat("Calls", 4, 4)
                    .describe("Calls handled by the selected groups' seats, selected window.")
                    .color("blue")
                    .query(r#"sum(laaffic_seat_calls{group=~"$group", window="$window", ..})"#, "calls"),
                stat("Connected calls", 4, 4)
                    .describe("Connected calls, selected groups, selected window.")
                    .color("blue")
                    .query(r#"sum(laaffic_seat_connected_calls{group=~"$group", window="$window", ..})"#, "connected"),
                stat("Connect ratio", 4, 4)
                    .describe("Connected calls over calls, selected groups, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.5, 0.7)
                    .query(r#"sum(laaffic_seat_connected_calls{group=~"$group", window="$window", ..}) / sum(laaffic_seat_calls{group=~"$group", window="$window", ..})"#, "connect ratio"),
                stat("Valid connect ratio", 4, 4)
                    .describe("Validly connected calls over calls, selected groups, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .worse_below(0.5, 0.7)
                    .query(r#"sum(laaffic_seat_valid_connected_calls{group=~"$group", window="$window", ..}) / sum(laaffic_seat_calls{group=~"$group", window="$window", ..})"#, "valid connect ratio"),
            ],
        )
        .row(
            "Groups",
            vec![
                bars("Seats by status per group (now)", 8, 8)
                    .describe("Seats per group and current status (group names from laaffic_seat_info).")
                    .color("blue")
                    .query(&group_named(r#"sum by (group, status) (laaffic_seat_status{group=~"$group", ..})"#, r#"laaffic_seat_status{group=~"$group", ..}"#), "{{group_name}}: {{status}}"),
                timeseries("Seats by status per group (top $top)", 8, 8)
                    .describe("Seats per group and status over time. Only the highest $top seats at each point in time (topk), so the panel stays readable at 2,000 seats; pick one with the variable to see it.")
                    .query(&top(&group_named(r#"sum by (group, status) (laaffic_seat_status{group=~"$group", ..})"#, r#"laaffic_seat_status{group=~"$group", ..}"#)), "{{group_name}}: {{status}}"),
                timeseries("Seats by status", 8, 8)
                    .describe("Seats of the selected groups by status over time (stacked).")
                    .stacked()
                    .query(r#"sum by (status) (laaffic_seat_status{group=~"$group", ..})"#, "{{status}}"),
                timeseries("Calls per group (top $top)", 8, 8)
                    .describe("Calls and connected calls per group, selected window (cumulative over the day). Only the highest $top seats at each point in time (topk), so the panel stays readable at 2,000 seats; pick one with the variable to see it.")
                    .query(&top(&group_named(r#"sum by (group) (laaffic_seat_calls{group=~"$group", window="$window", ..})"#, &selected("laaffic_seat_calls"))), "{{group_name}} calls")
                    .query(&top(&group_named(r#"sum by (group) (laaffic_seat_connected_calls{group=~"$group", window="$window", ..})"#, &selected("laaffic_seat_calls"))), "{{group_name}} connected"),
                timeseries("Group connect ratio (lowest $top)", 8, 8)
                    .describe(&format!("Connected calls / calls per group: today (laaffic_group:connect:ratio_today) and the last 15 minutes (laaffic_group:connect:ratio15m, from {} calls).", s.min_calls))
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"laaffic_group:connect:ratio_today{group=~"$group", ..}"#, "{{group}} today")
                    .query(r#"laaffic_group:connect:ratio15m{group=~"$group", ..}"#, "{{group}} last 15 min"),
                timeseries("Occupancy per group (top $top)", 8, 8)
                    .describe("Busy plus wrap-up seats over seats that are not offline, per group. Only the highest $top seats at each point in time (topk), so the panel stays readable at 2,000 seats; pick one with the variable to see it.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .query(r#"laaffic_group:seat_occupancy:ratio{group=~"$group", ..}"#, "{{group}}"),
            ],
        )
        .row(
            "Seats",
            vec![
                table("Seat status (now)", 10, 10)
                    .describe("Current status of every seat of the selected groups, with name and employee number from laaffic_seat_info.")
                    .labels(&[("name", "Name"), ("emp_no", "Employee no."), ("seat", "Seat"), ("group", "Group"), ("status", "Status")])
                    .hide_values()
                    .column("Current", Unit::Short, &seat_named_by(r#"(laaffic_seat_status{group=~"$group", ..} == 1)"#, r#"laaffic_seat_status{group=~"$group", ..}"#)),
                table("Seat calls", 14, 10)
                    .describe("Calls, connected calls and connect ratios per seat, selected window.")
                    .labels(&[("name", "Name"), ("emp_no", "Employee no."), ("seat", "Seat"), ("group", "Group")])
                    .column("Calls", Unit::Short, &seat_named(&selected("laaffic_seat_calls")))
                    .column("Connected", Unit::Short, &seat_named_by(&selected("laaffic_seat_connected_calls"), &selected("laaffic_seat_calls")))
                    .column("Connect ratio", Unit::Percent, &seat_named_by(&selected("laaffic_seat_connect_ratio"), &selected("laaffic_seat_calls")))
                    .column("Valid connected", Unit::Short, &seat_named_by(&selected("laaffic_seat_valid_connected_calls"), &selected("laaffic_seat_calls")))
                    .column("Valid connect ratio", Unit::Percent, &seat_named_by(&selected("laaffic_seat_valid_connect_ratio"), &selected("laaffic_seat_calls"))),
                bars("Lowest $top seat connect ratios", 12, 8)
                    .describe("The $top seats with the lowest connect ratio, selected window.")
                    .unit(Unit::Percent)
                    .min(0.0)
                    .max(1.0)
                    .worse_below(0.5, 0.7)
                    .query(&bottom(&seat_named(&selected("laaffic_seat_connect_ratio"))), "{{name}} ({{seat}})"),
                bars("Top $top seats by calls", 12, 8)
                    .describe("The $top seats with the most calls, selected window.")
                    .color("blue")
                    .query(&top(&seat_named(&selected("laaffic_seat_calls"))), "{{name}} ({{seat}})"),
            ],
        )
}
