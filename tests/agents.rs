//! Per-agent, per-group and quality collectors against the simulator.

mod common;

use std::time::Duration;

use common::*;
use sobot_simulator::{SimAgent, population};

const SECS: Duration = Duration::from_secs(30);

async fn simulator(agents: Vec<SimAgent>, quality_records: usize) -> Simulator {
    let config = SimConfig { agents, quality_records, ..SimConfig::fixtures(APP_ID, APP_KEY) };
    Simulator::start(config).await.expect("simulator")
}

async fn exporter(name: &str, sim: &Simulator, yaml: &str) -> Exporter {
    let dir = temp_dir(name);
    let config = write_file(&dir, "config.yml", yaml);
    Exporter::start(
        name,
        &sim.base_url(),
        &["--collect.interval", "1s", "--config.file", config.to_str().expect("utf8")],
    )
    .await
}

fn agents_of(m: &Metrics, metric: &str) -> std::collections::BTreeSet<String> {
    m.family(metric)
        .keys()
        .filter_map(|k| k.split("agent=\"").nth(1).and_then(|r| r.split('"').next()).map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documents_examples_give_exact_per_agent_values() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("agent_values", &sim.base_url(), &["--collect.interval", "1s"]).await;
    let m = exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&ALL)).await;
    let a = "agent=\"093685e7ae854979b3f07a97ea3685bc\",group=\"a1d05d23f7744927a97bd6651d2b6ef7\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_agent_avg_first_response_time_seconds{{{a}}}")), Some(5.0));
    assert_eq!(m.get(&format!("sobot_agent_valid_sessions{{{a}}}")), Some(1.0));
    assert_eq!(m.get(&format!("sobot_agent_not_received_sessions{{{a}}}")), Some(1.0));
    assert_eq!(m.get(&format!("sobot_agent_response_in_30s_ratio{{{a}}}")), Some(0.0));
    let b = "agent=\"738faf75873c4c47a79f4dfea83f164d\",group=\"edfcdcc480604bbc96f0585ee778a51a\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_agent_avg_first_response_time_seconds{{{b}}}")), Some(62.0));
    let d = "agent=\"ffb4fccb6c3a48a6b185ob5de171b6bb\",window=\"today\"";
    for (metric, value) in [
        ("login", 971.0),
        ("online", 972.0),
        ("busy", 973.0),
        ("training", 974.0),
        ("meal", 975.0),
        ("meeting", 976.0),
        ("activity", 977.0),
        ("break", 978.0),
    ] {
        assert_eq!(m.get(&format!("sobot_agent_{metric}_seconds{{{d}}}")), Some(value), "{metric}");
    }
    // quality_result (§2.8): chat channel, staffid/staff_name.
    let chat = "agent=\"61673ee8d98d4282a95cdad38ffd5f5b\",channel=\"chat\"";
    assert_eq!(m.get(&format!("sobot_quality_inspections{{{chat},window=\"today\"}}")), Some(1.0));
    assert_eq!(m.get(&format!("sobot_quality_score_points{{{chat},window=\"today\"}}")), Some(210.0));
    assert_eq!(m.get(&format!("sobot_quality_max_score_points{{{chat},window=\"today\"}}")), Some(200.0));
    assert_eq!(
        m.get(&format!("sobot_quality_part_score_points{{{chat},part=\"minus\",window=\"today\"}}")),
        Some(-10.0)
    );
    assert_eq!(
        m.get(&format!("sobot_quality_part_max_score_points{{{chat},part=\"add\",window=\"today\"}}")),
        Some(20.0)
    );
    // call_result: call channel, agentid/agent_name, total_score/pulse/minus.
    let call = "agent=\"2856580f156a4f9ea73dd4e9ac86896e\",channel=\"call\"";
    assert_eq!(m.get(&format!("sobot_quality_score_points{{{call},window=\"today\"}}")), Some(132.0));
    assert_eq!(m.get(&format!("sobot_quality_max_score_points{{{call},window=\"today\"}}")), Some(11.0));
    assert_eq!(
        m.get(&format!("sobot_quality_part_score_points{{{call},part=\"add\",window=\"today\"}}")),
        Some(122.0)
    );
    assert_eq!(
        m.get(&format!("sobot_quality_part_max_score_points{{{call},part=\"standard\",window=\"today\"}}")),
        Some(123.5)
    );
    // Names from the quality results; no e-mail address anywhere.
    assert_eq!(
        m.get("sobot_agent_info{agent=\"61673ee8d98d4282a95cdad38ffd5f5b\",name=\"在线客服\"}"),
        Some(1.0)
    );
    assert_eq!(
        m.get("sobot_agent_info{agent=\"2856580f156a4f9ea73dd4e9ac86896e\",name=\"testxx\"}"),
        Some(1.0)
    );
    assert!(!m.text.contains("123456@123.com") && !m.text.contains("132@sobot.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_result_of_the_quality_api_maps_its_own_field_names() {
    let sim = fixture_simulator().await;
    let exporter = exporter("chat_result", &sim, "collectors: [chat_result]\n").await;
    let m = exporter.wait_for("chat_result", SECS, |m| m.all_succeeded(&["chat_result"])).await;
    let chat = "agent=\"61673ee8d98d4282a95cdad38ffd5f5b\",channel=\"chat\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_quality_score_points{{{chat}}}")), Some(210.0));
    assert_eq!(m.get(&format!("sobot_quality_inspections{{{chat}}}")), Some(1.0));
    assert_eq!(
        m.get("sobot_agent_info{agent=\"61673ee8d98d4282a95cdad38ffd5f5b\",name=\"在线客服\"}"),
        Some(1.0)
    );
    let r = &sim.requests_to("chat_result")[0];
    let param = |k: &str| r.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(param("page_no"), Some("1"));
    assert!(param("start_datetime").is_some_and(|d| d.len() == 10), "{:?}", r.params);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_fifty_agents_go_in_chunks_of_at_most_100() {
    let population = population(5, 50);
    let ids: Vec<String> = population.iter().map(|a| a.id.clone()).collect();
    let sim = simulator(population, 0).await;
    let yaml = format!(
        "collectors: [get_service_data, human_duration]\nagents:\n{}",
        ids.iter().map(|id| format!("  - {id}\n")).collect::<String>()
    );
    let exporter = exporter("agents250", &sim, &yaml).await;
    let m = exporter
        .wait_for("both per-agent collectors", SECS, |m| {
            m.all_succeeded(&["get_service_data", "human_duration"])
        })
        .await;
    for endpoint in ["get_service_data", "human_duration"] {
        let requests = sim.requests_to(endpoint);
        assert!(requests.len() >= 3, "{endpoint}: 250 ids need three requests");
        for r in &requests {
            let ids = r.params.iter().find(|(k, _)| k == "serviceids").map(|(_, v)| v.split(',').count());
            assert!(ids.is_some_and(|n| n <= 100), "{endpoint} sent {ids:?} ids");
            assert_eq!(r.code, "000000");
        }
    }
    let want: std::collections::BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions"), want);
    assert_eq!(agents_of(&m, "sobot_agent_login_seconds"), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn quality_results_over_several_pages_count_every_record() {
    let agents = population(3, 5); // 15 agents
    let sim = simulator(agents.clone(), 47).await;
    let yaml = "collectors: [quality_result, call_result]\nquality:\n  interval: 1s\n  page_size: 10\n";
    let exporter = exporter("quality_pages", &sim, yaml).await;
    let m = exporter
        .wait_for("quality collectors", SECS, |m| m.all_succeeded(&["quality_result", "call_result"]))
        .await;
    for (endpoint, channel) in [("quality_result", "chat"), ("call_result", "call")] {
        let pages: Vec<_> = sim.requests_to(endpoint).into_iter().take(5).collect();
        assert_eq!(pages.len(), 5, "{endpoint}: 47 records in pages of 10");
        let mut total = 0.0;
        for (i, agent) in agents.iter().enumerate() {
            // The simulator gives record n to agent n mod 15 (in the first minute).
            let served = (0..47).filter(|n| n % 15 == i).count() as f64;
            let key = format!(
                "sobot_quality_inspections{{agent=\"{}\",channel=\"{channel}\",window=\"today\"}}",
                agent.id
            );
            assert_eq!(m.get(&key), Some(served), "{key}");
            total += served;
        }
        assert_eq!(total, 47.0);
        assert_eq!(
            m.get(&format!("sobot_exporter_collector_truncated{{collector=\"{endpoint}\"}}")),
            Some(0.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_cap_cuts_and_says_so() {
    let sim = simulator(population(3, 5), 47).await;
    let yaml = "collectors: [call_result]\nquality:\n  interval: 1s\n  page_size: 10\n  max_pages: 2\n";
    let exporter = exporter("quality_cap", &sim, yaml).await;
    let m = exporter.wait_for("call_result", SECS, |m| m.all_succeeded(&["call_result"])).await;
    assert_eq!(m.get("sobot_exporter_collector_truncated{collector=\"call_result\"}"), Some(1.0));
    let total: f64 = m.family("sobot_quality_inspections").values().sum();
    assert_eq!(total, 20.0, "two pages of ten");
    assert!(exporter.logs().contains("stopped at the page cap"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_who_leaves_disappears_on_the_next_cycle() {
    let agents = population(2, 3);
    let sim = simulator(agents.clone(), 0).await;
    let exporter = exporter("leaver", &sim, "collectors: [get_service_data, human_duration]\n").await;
    let m = exporter
        .wait_for("per-agent collectors", SECS, |m| m.all_succeeded(&["get_service_data", "human_duration"]))
        .await;
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions").len(), 6);
    let leaver = agents[4].id.clone();
    sim.set_agents(agents.iter().filter(|a| a.id != leaver).cloned().collect());
    let m = exporter
        .wait_for("the leaver gone", SECS, |m| !agents_of(m, "sobot_agent_valid_sessions").contains(&leaver))
        .await;
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions").len(), 5);
    let m = exporter
        .wait_for("gone from human_duration", SECS, |m| {
            !agents_of(m, "sobot_agent_login_seconds").contains(&leaver)
        })
        .await;
    assert!(!m.text.contains(&leaver));
}

#[tokio::test(flavor = "multi_thread")]
async fn per_group_statistics_have_their_own_names() {
    let sim = fixture_simulator().await;
    let yaml =
        "groups: [g1, g2]\ncollectors: [human_session, group_human_session, group_human_satisfaction]\n";
    let exporter = exporter("groups", &sim, yaml).await;
    let m = exporter
        .wait_for("group collectors", SECS, |m| {
            m.all_succeeded(&["human_session", "group_human_session", "group_human_satisfaction"])
        })
        .await;
    assert_eq!(m.get("sobot_human_consult_sessions{window=\"today\"}"), Some(132.0));
    assert_eq!(m.get("sobot_group_human_consult_sessions{group=\"g1\",window=\"today\"}"), Some(132.0));
    assert_eq!(m.get("sobot_group_human_consult_sessions{group=\"g2\",window=\"today\"}"), Some(132.0));
    assert_eq!(m.get("sobot_group_human_satisfaction_avg_score{group=\"g2\",window=\"today\"}"), Some(3.8));
    // The company-wide series never carry a group label, so sum() over either name is sound.
    assert!(m.family("sobot_human_consult_sessions").keys().all(|k| !k.contains("group=")));
    let mut sent: Vec<String> = sim
        .requests_to("human_session")
        .iter()
        .filter_map(|r| r.params.iter().find(|(k, _)| k == "groupids").map(|(_, v)| v.clone()))
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent, ["g1", "g2"], "one group per request");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cardinality_guard_drops_and_counts() {
    let sim = simulator(population(3, 5), 0).await;
    let exporter = exporter("guard", &sim, "collectors: [get_service_data]\nmax_agents: 10\n").await;
    let m = exporter.wait_for("two cycles", SECS, |_| sim.requests_to("get_service_data").len() >= 2).await;
    let m = if m.success("get_service_data") == Some(1.0) {
        m
    } else {
        exporter.wait_for("success", SECS, |m| m.all_succeeded(&["get_service_data"])).await
    };
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions").len(), 10);
    assert_eq!(m.get("sobot_exporter_agents_dropped{collector=\"get_service_data\"}"), Some(5.0));
    assert_eq!(exporter.logs().matches("more agents than max_agents").count(), 1, "logged once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_group_fails_only_itself() {
    let sim = fixture_simulator().await;
    sim.reject_group(Some("g2"));
    let exporter =
        exporter("group_rejected", &sim, "groups: [g1, g2, g3]\ncollectors: [group_human_session]\n").await;
    let m = exporter
        .wait_for("the other groups", SECS, |m| {
            m.get("sobot_exporter_collector_failed_parts{collector=\"group_human_session\"}") == Some(1.0)
        })
        .await;
    assert_eq!(m.success("group_human_session"), Some(1.0));
    assert_eq!(m.get("sobot_group_human_consult_sessions{group=\"g1\",window=\"today\"}"), Some(132.0));
    assert_eq!(m.get("sobot_group_human_consult_sessions{group=\"g3\",window=\"today\"}"), Some(132.0));
    assert!(m.family("sobot_group_human_consult_sessions").keys().all(|k| !k.contains("g2")));
    assert!(
        m.requests("group_human_session", "210006") >= 1.0 || m.requests("human_session", "210006") >= 1.0
    );
    // Once the group is known again, every group is back.
    sim.reject_group(None);
    exporter
        .wait_for("recovered", SECS, |m| {
            m.get("sobot_exporter_collector_failed_parts{collector=\"group_human_session\"}") == Some(0.0)
                && m.family("sobot_group_human_consult_sessions").len() == 3
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_that_overruns_its_deadline_fails_at_once() {
    let sim = simulator(population(1, 5), 200).await;
    // Every page answers in time, but twenty of them do not fit in the deadline (1 s).
    sim.set_fault("quality_result", Some(Fault::Delay(Duration::from_millis(400))));
    let yaml = "collectors: [robot_session, quality_result]\nsobot:\n  timeout: 1s\nquality:\n  interval: 1s\n  page_size: 10\n";
    let exporter = exporter("deadline", &sim, yaml).await;
    let started = std::time::Instant::now();
    let m =
        exporter.wait_for("quality_result failing", SECS, |m| m.success("quality_result") == Some(0.0)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "failed only after {:?}", started.elapsed());
    assert_eq!(m.success("robot_session"), Some(1.0), "the other collector is unaffected");
    let duration =
        m.get("sobot_exporter_collector_duration_seconds{collector=\"quality_result\"}").expect("duration");
    assert!(duration < 1.5, "the cycle ran {duration} s");
    assert!(exporter.logs().contains("overran its deadline of 1000 ms"), "{}", exporter.logs());
    assert!(sim.requests_to("quality_result").len() < 20, "it did not page on");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_longer_than_the_cap_keeps_its_first_items_and_counts_the_rest() {
    let sim = fixture_simulator().await;
    let rows: Vec<String> = (0..25_000)
        .map(|i| format!(r#"{{"serviceid":"agent{i:05}","groupid":"g1","valid_session":"{i}"}}"#))
        .collect();
    let body = format!(r#"{{"ret_code":"000000","ret_msg":"ok","items":[{}]}}"#, rows.join(","));
    sim.set_fault("get_service_data", Some(Fault::Body(body)));
    let exporter = exporter("items_cap", &sim, "collectors: [get_service_data]\nmax_agents: 30000\n").await;
    let dropped = "sobot_exporter_upstream_items_dropped_total{endpoint=\"get_service_data\"}";
    let m = exporter
        .wait_for("a capped answer", SECS, |m| {
            m.success("get_service_data") == Some(1.0) && m.get(dropped).is_some()
        })
        .await;
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions").len(), 20_000, "the first 20,000 items");
    assert_eq!(
        m.get("sobot_agent_valid_sessions{agent=\"agent19999\",group=\"g1\",window=\"today\"}"),
        Some(19999.0)
    );
    let dropped = m.get(dropped).unwrap_or_default();
    assert!(dropped >= 5000.0 && dropped % 5000.0 == 0.0, "5,000 an answer, got {dropped}");
    exporter.wait_for("another cycle", SECS, |_| sim.requests_to("get_service_data").len() >= 3).await;
    assert_eq!(exporter.logs().matches("an answer listed more items than the exporter keeps").count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_megabytes_of_tiny_items_cost_megabytes_not_gigabytes() {
    let sim = fixture_simulator().await;
    let exporter = exporter("tiny_items", &sim, "collectors: [get_service_data, robot_session]\n").await;
    let sim = &sim;
    let cycles = |n| move |_: &Metrics| sim.requests_to("get_service_data").len() >= n;
    exporter.wait_for("good cycles", SECS, cycles(3)).await;
    let before = exporter.memory_kib("VmRSS");
    let items = vec![r#"{"a":1}"#; 1_400_000].join(",");
    let body = format!(r#"{{"ret_code":"000000","items":[{items}]}}"#);
    sim.set_fault("get_service_data", Some(Fault::Body(body)));
    let dropped = "sobot_exporter_upstream_items_dropped_total{endpoint=\"get_service_data\"}";
    let m = exporter.wait_for("two large answers", SECS, |m| m.get(dropped) >= Some(2.0 * 1_380_000.0)).await;
    assert_eq!(m.success("robot_session"), Some(1.0));
    let no_agent = "sobot_exporter_parse_errors_total{endpoint=\"get_service_data\",field=\"serviceid\"}";
    assert!(m.get(no_agent) >= Some(20_000.0), "the kept items have no agent: counted");
    // Before the cap, one such answer took the process to 878 MB; now it costs the chunks of the
    // body and 20,000 small maps. A bound far above what it measures, far below the defect.
    let peak = exporter.memory_kib("VmHWM");
    assert!(peak < 200 * 1024, "peak RSS {peak} KiB");
    sim.set_fault("get_service_data", None);
    let n = sim.requests_to("get_service_data").len();
    exporter.wait_for("good cycles again", SECS, cycles(n + 3)).await;
    // Measured, not asserted (README, "Memory"): what the allocator keeps after the spike.
    let after = exporter.memory_kib("VmRSS");
    eprintln!("RSS before {before} KiB, peak {peak} KiB, after {after} KiB");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_reads_at_most_its_row_budget() {
    let sim = fixture_simulator().await;
    // Every chunk of 100 ids is answered with 20,000 rows: six chunks would be 120,000.
    let rows: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"serviceid":"agent{i:05}","groupid":"g1","valid_session":"1"}}"#))
        .collect();
    sim.set_fault(
        "get_service_data",
        Some(Fault::Body(format!(r#"{{"ret_code":"000000","items":[{}]}}"#, rows.join(",")))),
    );
    let agents: String = (0..600).map(|i| format!("  - id{i}\n")).collect();
    let yaml = format!("collectors: [get_service_data]\nmax_agents: 30000\nagents:\n{agents}");
    let exporter = exporter("row_budget", &sim, &yaml).await;
    let truncated = "sobot_exporter_collector_truncated{collector=\"get_service_data\"}";
    let m = exporter.wait_for("a cut cycle", SECS, |m| m.get(truncated) == Some(1.0)).await;
    assert_eq!(m.success("get_service_data"), Some(1.0), "what was read is served");
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions").len(), 20_000);
    assert_eq!(exporter.logs().matches("more agent rows than the exporter reads").count(), 1);
    // Back to normal answers, the flag goes back to 0.
    sim.set_fault("get_service_data", None);
    exporter.wait_for("an uncut cycle", SECS, |m| m.get(truncated) == Some(0.0)).await;
}

/// Series per agent for each choice of the cardinality knobs (the README's table): ten agents,
/// each inspected in both channels, every per-agent collector.
#[tokio::test(flavor = "multi_thread")]
async fn series_per_agent_for_each_choice_of_the_knobs() {
    const AGENTS: usize = 10;
    let sim = simulator(population(2, AGENTS / 2), 100).await;
    let per_agent = "[get_service_data, human_duration, quality_result, call_result]";
    let base = format!("collectors: {per_agent}\n");
    let today_only = "collector_windows:\n  get_service_data: [today]\n  human_duration: [today]\n  \
                      quality_result: [today]\n  call_result: [today]\n";
    let cases: [(&str, String, usize); 7] = [
        ("both windows", format!("{base}windows: [today, yesterday]\n"), 81),
        ("today only", format!("{base}windows: [today]\n"), 41),
        (
            "both windows, per-agent collectors today",
            format!("{base}windows: [today, yesterday]\n{today_only}"),
            41,
        ),
        ("today, no part scores", format!("{base}quality:\n  part_scores: false\n"), 29),
        ("today, no score distribution", format!("{base}agent_score_evaluations: false\n"), 36),
        (
            "today, neither",
            format!("{base}agent_score_evaluations: false\nquality:\n  part_scores: false\n"),
            24,
        ),
        (
            "both windows, neither",
            format!(
                "{base}windows: [today, yesterday]\nagent_score_evaluations: false\nquality:\n  part_scores: false\n"
            ),
            47,
        ),
    ];
    // Started together, so that they collect at the same time.
    let mut exporters = Vec::new();
    for (i, (_, yaml, _)) in cases.iter().enumerate() {
        exporters.push(exporter(&format!("knobs{i}"), &sim, yaml).await);
    }
    let collectors = ["get_service_data", "human_duration", "quality_result", "call_result"];
    let mut scraped = Vec::new();
    for exporter in &exporters {
        scraped.push(
            exporter.wait_for("every per-agent collector", SECS, |m| m.all_succeeded(&collectors)).await,
        );
    }
    for ((what, _, want), m) in cases.iter().zip(scraped) {
        let series = m.series.keys().filter(|k| k.contains("agent=\"")).count();
        let agents = agents_of(&m, "sobot_agent_valid_sessions").len();
        assert_eq!(agents, AGENTS, "{what}");
        assert_eq!(series, want * AGENTS, "{what}: {} series per agent", series as f64 / AGENTS as f64);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_listed_twice_is_its_first_row_whole_and_counted() {
    let sim = fixture_simulator().await;
    // The second row of a1 has a field the first lacks: none of its fields may be served.
    let body = r#"{"ret_code":"000000","items":[
        {"serviceid":"a1","groupid":"g1","valid_session":"1"},
        {"serviceid":"a2","groupid":"g1","valid_session":"2"},
        {"serviceid":"a1","groupid":"g1","valid_session":"9","not_reception_session":"9"}]}"#;
    sim.set_fault("get_service_data", Some(Fault::Body(body.to_string())));
    let exporter = exporter("agent_twice", &sim, "collectors: [get_service_data]\n").await;
    let m = exporter.wait_for("a cycle", SECS, |m| m.success("get_service_data") == Some(1.0)).await;
    let a1 = "agent=\"a1\",group=\"g1\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_agent_valid_sessions{{{a1}}}")), Some(1.0), "the first row");
    assert_eq!(m.get(&format!("sobot_agent_not_received_sessions{{{a1}}}")), None, "nothing of the second");
    assert_eq!(m.get("sobot_agent_valid_sessions{agent=\"a2\",group=\"g1\",window=\"today\"}"), Some(2.0));
    let duplicates = "sobot_exporter_upstream_duplicate_items_total{endpoint=\"get_service_data\"}";
    assert!(m.get(duplicates).is_some_and(|n| n >= 1.0), "counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_longer_than_a_label_is_refused_and_a_long_name_cut() {
    let sim = fixture_simulator().await;
    let (fits, long) = ("a".repeat(128), "b".repeat(129));
    let rows = format!(
        r#"{{"ret_code":"000000","items":[
            {{"serviceid":"{fits}","valid_session":"1"}},
            {{"serviceid":"{long}","valid_session":"2"}},
            {{"serviceid":"short","groupid":"{long}","valid_session":"3"}}]}}"#
    );
    sim.set_fault("get_service_data", Some(Fault::Body(rows)));
    let name = "名".repeat(60);
    let records = format!(
        r#"{{"ret_code":"000000","items":[{{"staffid":"q1","staff_name":"{name}","quality_score":"1","total_score":"1"}}]}}"#
    );
    sim.set_fault("quality_result", Some(Fault::Body(records)));
    let exporter = exporter("label_length", &sim, "collectors: [get_service_data, quality_result]\n").await;
    let m = exporter
        .wait_for("both collectors", SECS, |m| m.all_succeeded(&["get_service_data", "quality_result"]))
        .await;
    assert_eq!(agents_of(&m, "sobot_agent_valid_sessions"), [fits].into(), "128 bytes fit, 129 do not");
    let errors = |field: &str| {
        m.get(&format!(
            "sobot_exporter_parse_errors_total{{endpoint=\"get_service_data\",field=\"{field}\"}}"
        ))
    };
    assert!(errors("serviceid").is_some_and(|n| n >= 1.0), "the long agent id counted");
    assert!(errors("groupid").is_some_and(|n| n >= 1.0), "the long group id counted");
    let cut = format!("{}…", "名".repeat(41));
    assert_eq!(m.get(&format!("sobot_agent_info{{agent=\"q1\",name=\"{cut}\"}}")), Some(1.0), "{}", m.text);
}
