//! The project's tasks. `mixin` renders the rules, alerts and dashboards.
//!
//! ```text
//! cargo xtask mixin --write                  rewrite the committed files (defaults)
//! cargo xtask mixin --out DIR [settings]     write a copy with your URLs and guards
//! settings: --repository-url URL --grafana-url URL --min-sessions N --min-evaluations N --min-calls N
//!           --alert-minute-seconds N (each minute of an alert's `for:`, 60; fewer for quick tests)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::{Settings, render};

fn main() -> ExitCode {
    let mut settings = Settings::default();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("mixin") {
        eprintln!("xtask: the task is `mixin` (cargo xtask mixin --help)");
        return ExitCode::from(2);
    }
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
                // The workspace's root, where dashboards/ and deploy/ are.
                out = Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")));
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
                println!("{}", include_str!("main.rs").lines().take(8).collect::<Vec<_>>().join("\n"));
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
