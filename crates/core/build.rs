//! Build information for `--version` and `sobot_exporter_build_info`: the git revision and branch
//! (from the environment when there is no `.git`, as in a container build), the build date
//! (`SOURCE_DATE_EPOCH` if set, for reproducible builds) and the compiler's version.

use std::process::Command;

fn main() {
    let revision = from_env("SOBOT_EXPORTER_REVISION").or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    let branch = from_env("SOBOT_EXPORTER_BRANCH").or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]));
    let date = match from_env("SOURCE_DATE_EPOCH") {
        Some(epoch) => run("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%dT%H:%M:%SZ"]),
        None => run("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    // "rustc 1.95.0 (59807616e 2026-01-01)" → "1.95.0".
    let rustc_version =
        run(&rustc, &["--version"]).and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    let unknown = || "unknown".to_string();
    println!("cargo:rustc-env=SOBOT_EXPORTER_REVISION={}", revision.unwrap_or_else(unknown));
    println!("cargo:rustc-env=SOBOT_EXPORTER_BRANCH={}", branch.unwrap_or_else(unknown));
    println!("cargo:rustc-env=SOBOT_EXPORTER_BUILD_DATE={}", date.unwrap_or_else(unknown));
    println!("cargo:rustc-env=SOBOT_EXPORTER_RUSTC_VERSION={}", rustc_version.unwrap_or_else(unknown));
    for var in ["SOBOT_EXPORTER_REVISION", "SOBOT_EXPORTER_BRANCH", "SOURCE_DATE_EPOCH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    // A new commit or branch: the files git keeps HEAD and the current ref in.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"])
            .and_then(|r| git(&["rev-parse", "--git-path", &r])),
    ]
    .into_iter()
    .flatten()
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn git(args: &[&str]) -> Option<String> {
    run("git", args)
}

/// A command's trimmed standard output, if it ran and succeeded.
fn run(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty() && !t.contains(char::is_control))
}
