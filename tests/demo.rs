//! The demo's data adds up: the invariants the documents' examples fit, checked on `/metrics`.

mod common;

use sobot_exporter_core::sources::laaffic::config::LaafficConfig;
use std::time::Duration;

use common::*;

/// Each invariant: a name, whether both sides come from one answer, the left side (a sum of
/// series) and how it relates to the right side.
/// A term is a series of the window; `sum:NAME` adds every series of a family with that window (`by group`,
/// `by agent`), so the per-group and per-agent sums are checked against the company.
const INVARIANTS: &[Invariant] = &[
    (
        "messages: all = robot + customer + agent",
        true,
        &["sobot_messages_all"],
        Rel::Eq,
        &["sobot_messages_robot", "sobot_messages_customer", "sobot_messages_agent"],
    ),
    (
        "messages: human sessions = their customer + agent messages",
        true,
        &["sobot_messages_human_session_all"],
        Rel::Eq,
        &["sobot_messages_human_session_customer", "sobot_messages_agent"],
    ),
    (
        "messages: customer = to robot + to agents",
        true,
        &["sobot_messages_customer"],
        Rel::Eq,
        &["sobot_messages_robot_session_customer", "sobot_messages_human_session_customer"],
    ),
    (
        "robot: consult = valid + invalid",
        true,
        &["sobot_robot_consult_sessions"],
        Rel::Eq,
        &["sobot_robot_valid_sessions", "sobot_robot_invalid_sessions"],
    ),
    (
        "robot: valid = alone + to human",
        true,
        &["sobot_robot_valid_sessions"],
        Rel::Eq,
        &["sobot_robot_self_reception_sessions", "sobot_robot_to_human_sessions"],
    ),
    (
        "robot satisfaction: its valid sessions are robot_session's",
        false,
        &["sobot_robot_satisfaction_valid_sessions"],
        Rel::Eq,
        &["sobot_robot_valid_sessions"],
    ),
    (
        "robot: evaluations <= valid sessions",
        true,
        &["sobot_robot_satisfaction_evaluations"],
        Rel::Le,
        &["sobot_robot_satisfaction_valid_sessions"],
    ),
    (
        "robot: solved + not solved <= evaluations",
        true,
        &["sobot_robot_satisfaction_solved", "sobot_robot_satisfaction_not_solved"],
        Rel::Le,
        &["sobot_robot_satisfaction_evaluations"],
    ),
    (
        "human: consult = valid + invalid",
        true,
        &["sobot_human_consult_sessions"],
        Rel::Eq,
        &["sobot_human_valid_sessions", "sobot_human_invalid_sessions"],
    ),
    (
        "human: valid = valid + invalid + no reception",
        true,
        &["sobot_human_valid_sessions"],
        Rel::Eq,
        &[
            "sobot_human_valid_reception_sessions",
            "sobot_human_invalid_reception_sessions",
            "sobot_human_not_received_sessions",
        ],
    ),
    (
        "human: consult = solved + not solved + unmarked",
        true,
        &["sobot_human_consult_sessions"],
        Rel::Eq,
        &["sobot_human_solved_sessions", "sobot_human_not_solved_sessions", "sobot_human_unmarked_sessions"],
    ),
    (
        "human satisfaction: its valid sessions are human_session's",
        false,
        &["sobot_human_satisfaction_valid_sessions"],
        Rel::Eq,
        &["sobot_human_valid_sessions"],
    ),
    (
        "human: evaluations <= valid sessions",
        true,
        &["sobot_human_satisfaction_evaluations"],
        Rel::Le,
        &["sobot_human_satisfaction_valid_sessions"],
    ),
    (
        "human: good + neutral + bad = evaluations",
        true,
        &[
            "sobot_human_satisfaction_good_reviews",
            "sobot_human_satisfaction_neutral_reviews",
            "sobot_human_satisfaction_bad_reviews",
        ],
        Rel::Eq,
        &["sobot_human_satisfaction_evaluations"],
    ),
    (
        "human: customer-started + invited = evaluations",
        true,
        &[
            "sobot_human_satisfaction_customer_initiated_evaluations",
            "sobot_human_satisfaction_invited_evaluations",
        ],
        Rel::Eq,
        &["sobot_human_satisfaction_evaluations"],
    ),
    (
        "human: scores 1-4 <= evaluations (the 5s are not listed)",
        true,
        &["sum:sobot_human_satisfaction_score_evaluations"],
        Rel::Le,
        &["sobot_human_satisfaction_evaluations"],
    ),
    (
        "human: solved + not solved = solution answers",
        true,
        &["sobot_human_satisfaction_solved", "sobot_human_satisfaction_not_solved"],
        Rel::Eq,
        &["sobot_human_satisfaction_solution_answers"],
    ),
    (
        "all sessions: consult = valid + invalid",
        true,
        &["sobot_customer_consult_sessions"],
        Rel::Eq,
        &["sobot_customer_valid_sessions", "sobot_customer_invalid_sessions"],
    ),
    (
        "all sessions: valid = robot + human - robot to human",
        false,
        &["sobot_customer_valid_sessions", "sobot_robot_to_human_sessions"],
        Rel::Eq,
        &["sobot_robot_valid_sessions", "sobot_human_valid_sessions"],
    ),
    (
        "groups: consult sessions add up to the company's",
        false,
        &["sum:sobot_group_human_consult_sessions"],
        Rel::Eq,
        &["sobot_human_consult_sessions"],
    ),
    (
        "groups: valid sessions add up to the company's",
        false,
        &["sum:sobot_group_human_valid_sessions"],
        Rel::Eq,
        &["sobot_human_valid_sessions"],
    ),
    (
        "groups: not received add up to the company's",
        false,
        &["sum:sobot_group_human_not_received_sessions"],
        Rel::Eq,
        &["sobot_human_not_received_sessions"],
    ),
    (
        "groups: queue abandoned add up to the company's",
        false,
        &["sum:sobot_group_human_queue_abandoned_sessions"],
        Rel::Eq,
        &["sobot_human_queue_abandoned_sessions"],
    ),
    (
        "groups: evaluations add up to the company's",
        false,
        &["sum:sobot_group_human_satisfaction_evaluations"],
        Rel::Eq,
        &["sobot_human_satisfaction_evaluations"],
    ),
    (
        "agents: valid sessions add up to the company's",
        false,
        &["sum:sobot_agent_valid_sessions"],
        Rel::Eq,
        &["sobot_human_valid_sessions"],
    ),
    (
        "agents: not received add up to the company's",
        false,
        &["sum:sobot_agent_not_received_sessions"],
        Rel::Eq,
        &["sobot_human_not_received_sessions"],
    ),
    (
        "agents: evaluations add up to the company's",
        false,
        &["sum:sobot_agent_evaluations"],
        Rel::Eq,
        &["sobot_human_satisfaction_evaluations"],
    ),
    (
        "agents: scores 1-5 add up to their evaluations",
        false,
        &["sum:sobot_agent_score_evaluations"],
        Rel::Eq,
        &["sum:sobot_agent_evaluations"],
    ),
    (
        "agents: evaluations <= valid sessions",
        false,
        &["sum:sobot_agent_evaluations"],
        Rel::Le,
        &["sum:sobot_agent_valid_sessions"],
    ),
];

/// Name, within one answer, left side, relation, right side.
type Invariant = (&'static str, bool, &'static [&'static str], Rel, &'static [&'static str]);

#[derive(Debug, Clone, Copy)]
enum Rel {
    Eq,
    Le,
}

/// The sum of `terms` for `window` in `m`; `None` if a term has no series.
fn side(m: &Metrics, terms: &[&str], window: &str) -> Option<f64> {
    let mut total = 0.0;
    for term in terms {
        let value = match term.strip_prefix("sum:") {
            Some(family) => {
                let series = m.family(family);
                let values: Vec<f64> = series
                    .iter()
                    .filter(|(k, _)| k.contains(&format!("window=\"{window}\"")))
                    .map(|(_, v)| *v)
                    .collect();
                (!values.is_empty()).then(|| values.iter().sum())
            }
            None => m.get(&format!("{term}{{window=\"{window}\"}}")),
        };
        total += value?;
    }
    Some(total)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_data_adds_up_in_both_windows() {
    let exporter = Exporter::start_with_env("demo_invariants", "http://127.0.0.1:9", &["--demo"], &[]).await;
    let collectors = [ALL.as_slice(), &["group_human_session", "group_human_satisfaction"]].concat();
    let m =
        exporter.wait_for("every collector", Duration::from_secs(60), |m| m.all_succeeded(&collectors)).await;
    // Yesterday is settled, so every figure of it comes from the same day whatever the request;
    // today moves every few seconds, so it is checked within one answer (the company's). In the
    // first minutes after midnight in Shanghai (the demo's day at 1x) today's figures are truly
    // near zero: the invariants are checked then too, but only yesterday must prove them non-zero.
    let shanghai = jiff::Timestamp::now().in_tz("Asia/Shanghai").expect("the bundled tz database");
    let just_after_midnight = shanghai.hour() == 0 && shanghai.minute() < 10;
    for window in ["yesterday", "today"] {
        for (what, one_answer, left, rel, right) in INVARIANTS {
            if window == "today" && !one_answer {
                continue;
            }
            let (Some(l), Some(r)) = (side(&m, left, window), side(&m, right, window)) else {
                panic!("{what} ({window}): a term has no series");
            };
            let holds = match rel {
                Rel::Eq => l == r,
                Rel::Le => l <= r,
            };
            assert!(holds, "{what} ({window}): {l} vs {r}");
            let may_be_zero = matches!(rel, Rel::Le) || (window == "today" && just_after_midnight);
            assert!(l > 0.0 || may_be_zero, "{what} ({window}): all zero proves nothing");
        }
    }
    // Every family with a window has both (the platform's staff figures are today's only).
    for key in m.series.keys().filter(|k| k.contains("window=\"today\"") && !k.starts_with("sobot_platform_"))
    {
        let yesterday = key.replace("window=\"today\"", "window=\"yesterday\"");
        assert!(m.series.contains_key(&yesterday), "{yesterday} is missing");
    }
}

/// The demo's settings: no credentials needed, listening on this machine, the environment ignored.
#[test]
fn the_demo_needs_no_credentials_listens_here_and_ignores_the_environment() {
    let demo = sobot_simulator::demo::Demo::bind().expect("bind");
    let cli = <sobot_exporter_core::cli::Cli as clap::Parser>::try_parse_from(["sobot_exporter", "--demo"])
        .expect("flags");
    let half = |k: &str| (k == "LAAFFIC_API_KEY").then(|| "half".to_string());
    let c = sobot_exporter_core::app::settings::load(&cli, &half, Some(&demo)).expect("valid");
    assert_eq!(c.collection.sobot.base_url, demo.base_url());
    assert_eq!(c.process.listen, vec!["127.0.0.1:9877".parse().expect("addr")]);
    let laaffic = c.collection.sections.of::<LaafficConfig>("laaffic").expect("demo's");
    assert_ne!(laaffic.credentials.api_key.expose(), "half");
}
