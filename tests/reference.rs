//! The README stays true to the code: its metrics reference is the generated one, and its two
//! commands are the ones CI and the Dockerfile use.

const README: &str = include_str!("../README.md");

fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("README lacks {start}")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("README lacks {end}")) + from;
    &text[from..to]
}

#[test]
fn readme_metrics_reference_is_generated_from_the_code() {
    let committed = section(README, "<!-- metrics-reference:start -->\n", "<!-- metrics-reference:end -->");
    let generated = sobot_exporter::reference::markdown();
    if committed != generated {
        if std::env::var_os("UPDATE_README").is_some() {
            let start = README.find("<!-- metrics-reference:start -->\n").expect("marker")
                + "<!-- metrics-reference:start -->\n".len();
            let end = start + committed.len();
            let updated = format!("{}{}{}", &README[..start], generated, &README[end..]);
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"), updated).expect("write README");
        }
        panic!(
            "README metrics reference differs from the code: run `UPDATE_README=1 cargo test --test reference`"
        );
    }
}

#[test]
fn every_self_metric_of_the_table_encodes_under_its_name() {
    use sobot_exporter::telemetry::{SELF_METRICS, Telemetry};
    let telemetry = Telemetry::new();
    for m in SELF_METRICS {
        let labels = m.labels.iter().map(|l| (*l, "x".to_string())).collect();
        telemetry.set(m.name, labels, 1.0);
    }
    use sobot_exporter::exposition::{Chunk, Format};
    let sources = vec![std::sync::Arc::new(telemetry.families())];
    let chunk = Chunk::encode(sources).expect("encodes");
    let text = String::from_utf8(chunk.body(Format::Text).to_bytes().to_vec()).expect("utf8");
    let mut exposed: Vec<(&str, &str)> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_once(' ')).collect();
    let mut listed: Vec<(&str, &str)> = SELF_METRICS
        .iter()
        .map(|m| (m.name, if m.name.ends_with("_total") { "counter" } else { "gauge" }))
        .collect();
    exposed.sort_unstable();
    listed.sort_unstable();
    assert_eq!(exposed, listed);
}

#[test]
fn readme_commands_match_ci_and_dockerfile() {
    let commands = section(README, "<!-- commands:start -->\n", "<!-- commands:end -->");
    assert!(commands.contains("cargo run --release --locked -- --demo"), "{commands}");
    let test_command = commands
        .lines()
        .find(|l| l.contains("cargo nextest run --locked"))
        .unwrap_or_else(|| panic!("no test command in {commands}"));
    let ci = include_str!("../.ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == test_command.trim()),
        ".ci/run must run the README's test command"
    );
}
