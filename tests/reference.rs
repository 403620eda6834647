//! The README and `docs/` stay true to the code: the metrics reference is the generated one, the two
//! commands are the ones CI uses, the README stays a first page, and every link points at a file and
//! heading that exist.

use std::path::Path;

const README: &str = include_str!("../README.md");
const METRICS: &str = include_str!("../docs/metrics.md");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("lacks {start}")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("lacks {end}")) + from;
    &text[from..to]
}

#[test]
fn metrics_reference_is_generated_from_the_code() {
    let committed = section(METRICS, "<!-- metrics-reference:start -->\n", "<!-- metrics-reference:end -->");
    let generated = sobot_exporter_core::reference::markdown();
    if committed != generated {
        if std::env::var_os("UPDATE_README").is_some() {
            let start = METRICS.find("<!-- metrics-reference:start -->\n").expect("marker")
                + "<!-- metrics-reference:start -->\n".len();
            let end = start + committed.len();
            let updated = format!("{}{}{}", &METRICS[..start], generated, &METRICS[end..]);
            std::fs::write(Path::new(ROOT).join("docs/metrics.md"), updated).expect("write docs/metrics.md");
        }
        panic!(
            "docs/metrics.md's metrics reference differs from the code: run `UPDATE_README=1 cargo nextest run --locked --test reference`"
        );
    }
}

/// The Markdown files a user reads: the README, `docs/`, and the READMEs of `deploy/` and `dashboards/`.
fn pages() -> Vec<(String, String)> {
    let mut names =
        vec!["README.md".to_string(), "deploy/README.md".to_string(), "dashboards/README.md".to_string()];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).expect("docs/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            names.push(format!("docs/{name}"));
        }
    }
    names
        .into_iter()
        .map(|n| {
            let text =
                std::fs::read_to_string(Path::new(ROOT).join(&n)).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, text)
        })
        .collect()
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation but `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn the_readme_is_a_first_page() {
    let lines = README.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines: the manual belongs in docs/");
    for page in [
        "configuration",
        "security",
        "metrics",
        "platform",
        "deployment",
        "alerts",
        "performance",
        "design",
        "backfill",
    ] {
        assert!(README.contains(&format!("(docs/{page}.md)")), "README.md does not link docs/{page}.md");
    }
}

#[test]
fn every_link_of_the_docs_resolves_and_no_page_names_a_path_outside_the_repository() {
    let pages = pages();
    let links = regex_lite::Regex::new(r"\]\(([^)\s]+)\)").expect("regex");
    for (name, text) in &pages {
        // The checkout's own location and the folder around it are this machine's, not the reader's.
        let checkout = Path::new(ROOT);
        for outside in [Some(checkout), checkout.parent()].into_iter().flatten() {
            let outside = format!("{}/", outside.display());
            assert!(!text.contains(&outside), "{name} names a path outside the repository ({outside})");
        }
        let dir = Path::new(name).parent().unwrap_or(Path::new(""));
        for link in links.captures_iter(text).map(|c| c[1].to_string()) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = link.split_once('#').map_or((link.as_str(), None), |(f, a)| (f, Some(a)));
            let target = if file.is_empty() { Path::new(name).to_path_buf() } else { dir.join(file) };
            let path = Path::new(ROOT).join(&target);
            assert!(path.exists(), "{name} links {link}: {} does not exist", target.display());
            if let Some(fragment) = fragment.filter(|_| target.extension().is_some_and(|e| e == "md")) {
                let text = std::fs::read_to_string(&path).expect("linked page");
                assert!(anchors(&text).iter().any(|a| a == fragment), "{name} links {link}: no such heading");
            }
        }
    }
}

#[test]
fn the_tenants_on_metrics_advice_is_the_same_everywhere() {
    // One rule, in every place that gives it: `false` whenever Prometheus scrapes the tenants through /sd.
    for (name, text) in pages() {
        for (i, line) in text.lines().enumerate() {
            if line.contains("tenants_on_metrics") && line.contains("large platform") {
                panic!(
                    "{name}:{}: the advice is tied to /sd scraping, not to the platform's size: {line}",
                    i + 1
                );
            }
        }
    }
    assert!(README.contains(
        "Whenever Prometheus scrapes the tenants through `/sd`,\nset `platform.tenants_on_metrics: false`"
    ));
}

#[test]
fn every_self_metric_of_the_table_encodes_under_its_name() {
    use sobot_exporter_core::telemetry::{SELF_METRICS, Telemetry};
    let telemetry = Telemetry::new();
    for m in SELF_METRICS {
        let labels = m.labels.iter().map(|l| (*l, "x".to_string())).collect();
        telemetry.set(m.name, labels, 1.0);
    }
    use sobot_exporter_core::exposition::{Chunk, Format};
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
