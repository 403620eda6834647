//! `sobot_exporter backfill` end to end: the demo's simulator (past days whose figures differ day by
//! day and hour by hour), the backfill of two past days, Debian's `promtool tsdb
//! create-blocks-from openmetrics` on each file, and a real Prometheus started on those blocks,
//! asked for each day's and hour's value at its time and with the history queries of the docs.
//! Needs `prometheus` (tests/setup.sh installs it).

mod common;

use std::process::Command;

use common::*;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The company's series, as the file writes it.
const SERIES: &str = "sobot_human_consult_sessions{window=\"today\"}";
/// The company's series in PromQL (the tenants' have a `tenant` label).
const QUERY: &str = "sobot_human_consult_sessions{window=\"today\",tenant=\"\"}";

/// The value of `series` (as the file writes it) at `unix` seconds in the file `om`.
fn in_file(om: &str, series: &str, unix: i64) -> Option<f64> {
    om.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.trim();
        let (value, at) = rest.split_once(' ')?;
        (at.parse::<i64>().ok()? == unix).then(|| value.parse().ok()).flatten()
    })
}

/// The first value of `expr` at `at` (Unix seconds).
async fn query(prometheus: &Prometheus, expr: &str, at: i64) -> Option<f64> {
    let result = prometheus.query(expr, Some(at)).await;
    result.first()?["value"][1].as_str().and_then(|v| v.parse().ok())
}

/// The first query of the overview's panel `title` (its human consultation sessions), with the
/// variables as Grafana fills them on the company (every job and instance, tenant `^$`) and `group`.
fn history_query(title: &str, group: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/sobot-overview.json");
    let overview: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let panels = overview["panels"].as_array().expect("panels");
    let panel = panels.iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}"));
    let expr = panel["targets"][0]["expr"].as_str().expect("expr");
    assert!(expr.contains("sobot_human_consult_sessions{"), "{expr}");
    expr.replace("$job", ".*").replace("$instance", ".*").replace("$tenant", "^$").replace("$group", group)
}

#[tokio::test]
async fn two_past_days_go_through_promtool_into_prometheus_at_their_hours() {
    let tz = TimeZone::get("Asia/Shanghai").expect("tz");
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let (first, last): (Date, Date) =
        (today.checked_sub(2.days()).expect("day"), today.yesterday().expect("day"));
    let dir = temp_dir("backfill_e2e");
    let out = dir.join("om");
    let binary = env!("CARGO_BIN_EXE_sobot_exporter");
    let run = |extra: &[&str]| {
        Command::new(binary)
            .args(["backfill", "--from", &first.to_string(), "--to", &last.to_string()])
            .args(["--output", out.to_str().expect("utf8"), "--demo", "--log.level", "warn"])
            .args(extra)
            .output()
            .expect("the binary runs")
    };
    let done = run(&[]);
    let stderr = String::from_utf8_lossy(&done.stderr);
    // The demo's platform lists one tenant with a key Sobot refuses: it is left out of each day
    // (named), the other targets are written, and the exit code says so.
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 days written, 0 skipped (--resume), 26 targets"), "{stderr}");
    assert!(
        stderr.contains(&format!("written without some targets: {first} (1 targets left out), {last} (1"))
    );
    assert_eq!(stderr.matches("signature错误").count(), 2, "named once a day: {stderr}");
    // Again with --resume: nothing to do.
    let again = run(&["--resume"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 days written, 2 skipped"));
    let at = |day: Date, hour: i8| {
        day.at(hour, 59, 59, 0).to_zoned(tz.clone()).expect("time").timestamp().as_second()
    };

    let data = dir.join("prometheus").join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut files = Vec::new();
    for day in [first, last] {
        let file = out.join(format!("{day}.om"));
        let text = std::fs::read_to_string(&file).expect("a file a day");
        assert!(text.ends_with("# EOF\n"));
        // Every kind of target: the tenants' series (by their own tokens), the platform's staff
        // figures and Laaffic's call counts at the end of the day, no live seat state.
        let end = at(day, 23);
        for family in [
            "sobot_human_consult_sessions{tenant=",
            "sobot_platform_staff_valid_consult_sessions{",
            "laaffic_seat_calls{",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(family) && l.ends_with(&format!(" {end}"))),
                "{family}"
            );
        }
        assert!(!text.contains("laaffic_seat_status"), "the seats' live state has no history");
        let blocks = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(&data)
            .output()
            .expect("promtool is installed (Debian package prometheus; tests/setup.sh installs it)");
        assert!(blocks.status.success(), "{}", String::from_utf8_lossy(&blocks.stderr));
        files.push((day, text));
    }
    let (daily, hourly) =
        (history_query("Sessions per day", ".*"), history_query("Sessions by the hour (day so far)", ".*"));
    let prometheus =
        Prometheus::start(&dir.join("prometheus"), "global:\n  scrape_interval: 1m\n", &[]).await;
    let url = &prometheus;
    for (day, text) in &files {
        let mut previous = -1.0;
        for hour in [0, 10, 23] {
            let expected = in_file(text, SERIES, at(*day, hour)).expect("a sample at the end of the hour");
            assert!(expected > previous, "{day} {hour}: the day so far grows ({previous} then {expected})");
            previous = expected;
            assert_eq!(query(url, QUERY, at(*day, hour)).await, Some(expected), "{day} at {hour}:59:59");
            assert_eq!(
                query(url, &format!("last_over_time({QUERY}[1h])"), at(*day, hour) + 1800).await,
                Some(expected),
                "the hour's figure half an hour later"
            );
        }
        // Between hours an instant query sees nothing after the 5-minute lookback; the history
        // queries do: at the midnight that ends the day, its last sample.
        assert_eq!(query(url, QUERY, at(*day, 10) + 1800).await, None);
        let midnight = at(*day, 23) + 1;
        assert_eq!(query(url, &format!("last_over_time({QUERY}[1d])"), midnight).await, Some(previous));
        // The overview's history row, as Grafana asks it on the company (tenant `^$`, every group)
        // with its steps on Shanghai's midnights and hours.
        assert_eq!(query(url, &daily, midnight).await, Some(previous), "{day}: the day's figure");
        for hour in [0, 10, 23] {
            let expected = in_file(text, SERIES, at(*day, hour));
            assert_eq!(
                query(url, &hourly, at(*day, hour) + 1).await,
                expected,
                "{day}: hour {hour}'s figure"
            );
        }
        // With one group selected, that group's (the other groups have samples in the day).
        let group = text
            .lines()
            .find_map(|l| l.strip_prefix("sobot_group_human_consult_sessions{group=\"")?.split_once('"'))
            .map(|(g, _)| g.to_string())
            .expect("the demo's groups are backfilled");
        let series = format!("sobot_group_human_consult_sessions{{group=\"{group}\",window=\"today\"}}");
        let expected = in_file(text, &series, at(*day, 23));
        assert!(expected.is_some() && expected != Some(previous), "{series}: {expected:?}");
        let daily_group = history_query("Sessions per day", &group);
        assert_eq!(query(url, &daily_group, midnight).await, expected, "{day}: group {group}'s figure");
    }
    let (a, b) = (in_file(&files[0].1, SERIES, at(first, 23)), in_file(&files[1].1, SERIES, at(last, 23)));
    assert_ne!(a, b, "two days' figures differ");
}

#[test]
fn backfill_refuses_today_and_bad_dates_with_one_line() {
    let binary = env!("CARGO_BIN_EXE_sobot_exporter");
    let dir = temp_dir("backfill_refused");
    let out = dir.join("om");
    let today = jiff::Timestamp::now().to_zoned(TimeZone::get("Asia/Shanghai").expect("tz")).date();
    for (from, to, says) in [
        (today.to_string(), today.to_string(), "at most yesterday"),
        (
            "2026-13-01".to_string(),
            "2026-12-01".to_string(),
            "--from \"2026-13-01\": expected a date as YYYY-MM-DD",
        ),
        ("2026-11-02".to_string(), "2026-11-01".to_string(), "--from 2026-11-02 is after --to 2026-11-01"),
    ] {
        let done = Command::new(binary)
            .args([
                "backfill",
                "--from",
                &from,
                "--to",
                &to,
                "--output",
                out.to_str().expect("utf8"),
                "--demo",
            ])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!out.exists(), "nothing written");
    }
}

/// Samples at `unix` seconds of an OpenMetrics file: `name{labels}` → value.
fn samples_at(om: &str, unix: i64) -> std::collections::BTreeMap<String, f64> {
    om.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, rest) = l.rsplit_once('}').map(|(s, r)| (format!("{s}}}"), r))?;
            let (value, at) = rest.trim().split_once(' ')?;
            (at.parse::<i64>().ok()? == unix).then(|| Some((series, value.parse().ok()?))).flatten()
        })
        .collect()
}

/// The live path run "at" a past hour (its collectors reading a set clock) serves on `/metrics`
/// the same series, labels and values as the backfill wrote for that hour: the two share their
/// collectors and decoders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_path_at_a_past_hour_serves_what_the_backfill_wrote_for_it() {
    use std::sync::Arc;

    use sobot_exporter_core::app::backfill;
    use sobot_exporter_core::cli::{Backfill, Cli};
    use sobot_exporter_core::exposition::{Board, Format};
    use sobot_exporter_core::targets::{Shared, TargetSet, TargetSpec};
    use sobot_exporter_core::window::{Clock, Window};

    let demo = sobot_simulator::demo::Demo::bind().expect("bind");
    let sim = demo.start(1).await.expect("the demo's simulator");
    let dir = temp_dir("backfill_live");
    let yaml =
        "collectors: [robot_session, human_session, get_service_data, human_duration, quality_result]\n";
    let file = write_file(&dir, "config.yml", yaml);
    let cli = <Cli as clap::Parser>::try_parse_from([
        "sobot_exporter",
        "--demo",
        "--config.file",
        file.to_str().expect("utf8"),
    ])
    .expect("flags");
    let mut config =
        sobot_exporter_core::app::settings::load(&cli, &|_| None, Some(&demo)).expect("config").collection;
    // The company alone, today's window, as the backfill runs it.
    config.platform = None;
    config.sections = Default::default();
    config.windows = vec![Window::Today];
    let tz = config.tz.clone();
    let day = jiff::Timestamp::now().to_zoned(tz.clone()).date().yesterday().expect("a day");
    let at = day.at(10, 59, 59, 0).to_zoned(tz).expect("time").timestamp();

    let out = dir.join("om");
    let args = Backfill { from: day.to_string(), to: day.to_string(), output: out.clone(), resume: false };
    backfill::run(config.clone(), &args).await.expect("backfilled");
    let om = std::fs::read_to_string(out.join(format!("{day}.om"))).expect("the day's file");
    let written = samples_at(&om, at.as_second());
    assert!(written.len() > 20, "the hourly endpoints' samples at 10:59:59: {written:?}");
    // One token for the whole run; an hourly endpoint asked for the day so far at every hour.
    let company = config.credentials.as_ref().expect("the demo's company").app_id.clone();
    assert_eq!(sim.tokens_issued_to(&company), 1, "one token for the whole backfill");
    let ends: Vec<String> = sim
        .requests_for(&company, "robot_session")
        .iter()
        .filter(|r| r.code == "000000")
        .filter_map(|r| r.params.iter().find(|(k, _)| k == "end_date").map(|(_, v)| v.clone()))
        .collect();
    let expected: Vec<String> = (0..24).map(|h| format!("{day} {h:02}")).collect();
    assert_eq!(ends, expected, "robot_session's end_date, hour by hour");

    let config = Arc::new(config);
    let board = Board::new();
    let shared = Shared::new(board.clone(), &config).expect("clients").at(Clock::at(at));
    let set = TargetSet::new(Arc::new(shared));
    set.reconcile(vec![TargetSpec::company(config.clone())]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let live = loop {
        let text = String::from_utf8(board.body(Format::Text).to_bytes().to_vec()).expect("utf8");
        let m = Metrics::parse(&text);
        if ["robot_session", "human_session", "get_service_data"]
            .iter()
            .all(|c| m.get(&format!("sobot_exporter_collector_success{{collector=\"{c}\"}}")) == Some(1.0))
        {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "the live path's first cycles:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for (series, value) in &written {
        assert_eq!(live.get(series), Some(*value), "{series} on /metrics at {at}");
    }
    // And nothing more of those families on /metrics.
    let families: std::collections::BTreeSet<&str> =
        written.keys().filter_map(|s| s.split('{').next()).collect();
    let extra: Vec<&String> = live
        .series
        .keys()
        .filter(|s| s.split('{').next().is_some_and(|f| families.contains(f)) && !written.contains_key(*s))
        .collect();
    assert!(extra.is_empty(), "served but not backfilled: {extra:?}");
    set.reconcile(Vec::new());
}

/// Ctrl-C between days: the process stops at once (exit 130), the day written is whole, the day
/// it was working on leaves no `.om` file.
#[test]
fn an_interrupted_backfill_leaves_only_whole_files() {
    let binary = env!("CARGO_BIN_EXE_sobot_exporter");
    let dir = temp_dir("backfill_interrupted");
    let out = dir.join("om");
    let tz = TimeZone::get("Asia/Shanghai").expect("tz");
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let (first, last) = (today.checked_sub(3.days()).expect("day"), today.yesterday().expect("day"));
    let child = Command::new(binary)
        .args(["backfill", "--from", &first.to_string(), "--to", &last.to_string()])
        .args(["--output", out.to_str().expect("utf8"), "--demo", "--log.level", "warn"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let written = out.join(format!("{first}.om"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !written.exists() {
        assert!(std::time::Instant::now() < deadline, "the first day was not written");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let done = child.wait_with_output().expect("it ends");
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("backfill interrupted: the files written are complete; --resume skips them"));
    let files: Vec<String> = std::fs::read_dir(&out)
        .expect("the output")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".om"))
        .collect();
    assert_eq!(files, [format!("{first}.om")], "only the finished day");
    assert!(std::fs::read_to_string(&written).expect("the day").ends_with("# EOF\n"));
}
