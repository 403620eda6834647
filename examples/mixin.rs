//! Renders the rules, alerts and dashboards from `src/mixin`.
//!
//! ```text
//! cargo run --example mixin -- --write                  rewrite the committed files (defaults)
//! cargo run --example mixin -- --out DIR [settings]     write a copy with your URLs and guards
//! settings: --repository-url URL --grafana-url URL --min-sessions N --min-evaluations N --min-calls N
//!           --alert-minute-seconds N (each minute of an alert's `for:`, 60; fewer for quick tests)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use sobot_exporter::mixin::{Settings, render};

fn main() -> ExitCode {
    let mut settings = Settings::default();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(v) => Ok(v),
            None => Err(format!("{name} needs a value")),
        };
        let number = |v: Result<String, String>| {
            v.and_then(|v| {
                v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or(format!("{arg}: a whole number ≥ 1"))
            })
        };
        let result = match arg.as_str() {
            "--write" => {
                out = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
                Ok(())
            }
            "--out" => value("--out").map(|v| out = Some(PathBuf::from(v))),
            "--repository-url" => value(&arg).map(|v| settings.repository_url = v),
            "--grafana-url" => value(&arg).map(|v| settings.grafana_url = v),
            "--min-sessions" => number(value(&arg)).map(|n| settings.min_sessions = n),
            "--min-evaluations" => number(value(&arg)).map(|n| settings.min_evaluations = n),
            "--min-calls" => number(value(&arg)).map(|n| settings.min_calls = n),
            "--alert-minute-seconds" => number(value(&arg)).map(|n| settings.alert_minute_seconds = n),
            "-h" | "--help" => {
                println!("{}", include_str!("mixin.rs").lines().take(8).collect::<Vec<_>>().join("\n"));
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other}: see --help")),
        };
        if let Err(e) = result {
            eprintln!("mixin: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(root) = out else {
        eprintln!("mixin: say --write (the repository's files) or --out DIR");
        return ExitCode::from(2);
    };
    for file in render(&settings) {
        let path = root.join(file.path);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!("mixin: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        if let Err(e) = std::fs::write(&path, file.text) {
            eprintln!("mixin: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
