//! The vendor recipe of `docs/design.md`, proven: the tests' `example` source (one folder under
//! `sources/` and one line in the registry) is configured from its own section of the file, runs
//! its collector and serves its series on `/metrics`, through the same paths as every source.

use std::time::Duration;

use clap::Parser;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::settings;
use crate::cli::Cli;
use crate::input::{TempDir, err};
use crate::sources::example::{ENV_TOKEN, upstream, widgets};
use crate::window::Window;

const TOKEN: &str = "example-token-1234";

/// A path as a flag's value.
fn path(file: &std::path::Path) -> String {
    file.to_str().expect("utf-8 path").to_string()
}

fn load(config: &str, token: Option<&str>) -> Result<settings::Config, crate::input::ConfigError> {
    let cli = Cli::try_parse_from(["sobot_exporter", "--config.file", config, "--collect.interval", "1s"])
        .expect("valid flags");
    let token = token.map(str::to_string);
    settings::load(&cli, &move |k: &str| if k == ENV_TOKEN { token.clone() } else { None }, None)
}

/// The value of the series `name{labels}` in the text exposition `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_of_one_folder_and_one_registry_line_serves_its_series() {
    let (addr, upstream) = upstream(TOKEN).await.expect("the example's upstream");
    let scratch = TempDir::new("example_source");
    let yaml = format!("timezone: UTC\ncollectors: [example_shop]\nexample:\n  base_url: http://{addr}\n");
    let file = path(&scratch.write("config.yml", &yaml));
    let config = load(&file, Some(TOKEN)).expect("the example's section is read by the example");
    let names: Vec<String> =
        config.collection.collectors.iter().map(crate::sources::CollectorKind::name).collect();
    assert_eq!(names, ["example_shop"]);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loader: super::Loader = Box::new(|| Err(err("not reloaded in this test")));
    let app = tokio::spawn(super::run(config, Some(vec![listener]), loader, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut text = String::new();
    for _ in 0..200 {
        if let Ok(answer) = client.get(&url).send().await {
            text = answer.text().await.unwrap_or_default();
            if value(&text, "sobot_exporter_collector_success{collector=\"example_shop\"}") == Some(1.0) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let today = Window::Today.day(Timestamp::now(), &TimeZone::UTC);
    let north = value(&text, "example_shop_widgets{shop=\"north\",window=\"today\"}");
    // Around midnight the cycle may have asked for the day before.
    let days = [today, today.yesterday().expect("a day before")];
    assert!(days.iter().any(|d| north == Some(widgets("north", *d))), "north's widgets: {north:?}\n{text}");
    assert!(value(&text, "example_shop_widgets{shop=\"south\",window=\"today\"}").is_some(), "{text}");
    assert_eq!(value(&text, "example_shop_return_ratio{shop=\"north\",window=\"today\"}"), Some(0.125));
    assert_eq!(
        value(&text, "example_shop_return_ratio{shop=\"south\",window=\"today\"}"),
        None,
        "`-` is no value, not a zero"
    );
    assert!(text.contains("# HELP example_shop_widgets Widgets sold (售出件数; shop report field widgets)"));
    let requests =
        value(&text, "sobot_exporter_upstream_requests_total{endpoint=\"shop_report\",code=\"0\"}");
    assert!(requests.is_some_and(|n| n >= 1.0), "{text}");
    assert!(!text.contains(TOKEN), "the token is never served");

    let _ = stop.send(());
    app.await.expect("the exporter's task").expect("it ran");
    upstream.abort();
}

#[test]
fn the_example_section_is_checked_by_the_example() {
    let scratch = TempDir::new("example_section");
    let typo = path(&scratch.write("typo.yml", "example:\n  base_url: http://127.0.0.1:9\n  tiemout: 5s\n"));
    let e = load(&typo, Some(TOKEN)).expect_err("an unknown key of the section");
    assert!(
        e.0.ends_with("typo.yml: unknown key `tiemout` at line 3, column 3; did you mean `timeout`?"),
        "{e}"
    );
    let no_token = path(&scratch.write("no_token.yml", "example:\n  base_url: http://127.0.0.1:9\n"));
    let e = load(&no_token, None).expect_err("no token");
    assert!(e.0.ends_with("example.token_file: set it or EXAMPLE_SHOP_TOKEN"), "{e}");
    let unknown = path(&scratch.write("unknown.yml", "exemple:\n  base_url: x\n"));
    let e = load(&unknown, Some(TOKEN)).expect_err("a section of no source");
    assert!(e.0.contains("unknown key `exemple` at line 1, column 1; did you mean `example`?"), "{e}");
    let not_run = path(&scratch.write("not_run.yml", "collectors: [example_shop]\n"));
    let cli = Cli::try_parse_from(["sobot_exporter", "--config.file", &not_run]).expect("valid flags");
    let sobot_only = |k: &str| k.starts_with("SOBOT_APP_").then(|| "acme".to_string());
    let e = settings::load(&cli, &sobot_only, None).expect_err("not configured");
    assert!(e.0.ends_with("collectors: example_shop needs Example credentials"), "{e}");
}
