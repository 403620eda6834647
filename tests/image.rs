//! The container image and `docker-compose.yml`, without a Docker engine.
//!
//! The Dockerfile's build stage is replayed from the file itself in a temporary directory: its
//! WORKDIR, ARG, ENV, COPY and RUN lines as written. COPY takes the files from this repository as
//! the build context gives them (`.dockerignore` applied); RUN runs under `sh -c`, with a `cargo`
//! first on PATH for which `cargo build` is `cargo metadata` with the same `--locked` (cargo loads
//! the manifest, lists every target it declares and resolves the lockfile) and a check that each
//! target's source file exists (where the image build failed: "can't find `platform` bench"); it
//! stops before compiling, so the test costs no
//! release build (compiling the same sources is what the rest of the suite does). Every other
//! command is the real one. What the runtime stage copies from the build stage must be the binary
//! of that last `cargo build`, and the toolchain image at least as new as every locked package's
//! `rust-version`.
//!
//! Debian's `docker-compose` (1.29) reads and validates the compose file offline (`config`), and
//! promtool checks the Prometheus configuration as the compose file mounts it.
//!
//! Needs `docker-compose` and `promtool` (tests/setup.sh installs both).

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::temp_dir;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------------- the Dockerfile

/// One instruction: its keyword (upper case) and its arguments, continuation lines joined.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of a Dockerfile: comment lines dropped (inside a continued instruction too),
/// a trailing backslash joining the next line, as Docker's parser does.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if let Some(body) = line.trim_end().strip_suffix('\\') {
            current.push_str(body);
            continue;
        }
        current.push_str(line);
        let joined = std::mem::take(&mut current);
        let (keyword, args) = joined.trim().split_once(char::is_whitespace).unwrap_or((joined.trim(), ""));
        out.push(Instruction { keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() });
    }
    assert!(current.is_empty(), "the Dockerfile ends inside a continued line");
    out
}

/// A stage: `FROM image [AS name]` and its instructions up to the next FROM.
#[derive(Debug)]
struct Stage {
    image: String,
    name: Option<String>,
    body: Vec<Instruction>,
}

fn stages(text: &str) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for ins in instructions(text) {
        if ins.keyword == "FROM" {
            let words: Vec<&str> = ins.args.split_whitespace().collect();
            let (image, name) = match words.as_slice() {
                [image] => (image.to_string(), None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (image.to_string(), Some(name.to_string()))
                }
                _ => panic!("FROM {}: the replay knows `FROM image [AS name]` only", ins.args),
            };
            out.push(Stage { image, name, body: Vec::new() });
        } else if let Some(stage) = out.last_mut() {
            stage.body.push(ins);
        } else {
            assert_eq!(ins.keyword, "ARG", "only ARG may precede the first FROM");
        }
    }
    out
}

/// `COPY --from=<stage> <path> …` lines of the later stages: (stage, path in that stage).
fn copies_from(stages: &[Stage]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stage in stages {
        for ins in stage.body.iter().filter(|i| i.keyword == "COPY") {
            let words: Vec<&str> = ins.args.split_whitespace().collect();
            if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                let paths: Vec<&&str> = words.iter().filter(|w| !w.starts_with("--")).collect();
                assert_eq!(paths.len(), 2, "COPY {}: one source and a destination", ins.args);
                out.push((from.to_string(), paths[0].to_string()));
            }
        }
    }
    out
}

// -------------------------------------------------------------------------- the build context

/// `.dockerignore` as Docker applies it: a pattern excludes the paths it matches and everything
/// under them, `*` and `?` within a path segment, `**` any number of segments, `!` re-includes,
/// the last matching line wins.
struct DockerIgnore(Vec<(bool, Vec<String>)>);

impl DockerIgnore {
    fn load(context: &Path) -> DockerIgnore {
        let text = std::fs::read_to_string(context.join(".dockerignore")).unwrap_or_default();
        let mut rules = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(p) => (false, p),
                None => (true, line),
            };
            assert!(
                !pattern.contains(['[', '\\']),
                ".dockerignore {line}: character classes are not emulated"
            );
            let segments = pattern.trim_matches('/').split('/').filter(|s| !s.is_empty() && *s != ".");
            rules.push((exclude, segments.map(str::to_string).collect()));
        }
        DockerIgnore(rules)
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    fn excludes(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (exclude, pattern) in &self.0 {
            if (1..=parts.len()).any(|n| segments_match(pattern, &parts[..n])) {
                excluded = *exclude;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((p, rest)) if p == "**" => (0..=path.len()).any(|i| segments_match(rest, &path[i..])),
        Some((p, rest)) => path
            .split_first()
            .is_some_and(|(s, tail)| glob(p.as_bytes(), s.as_bytes()) && segments_match(rest, tail)),
    }
}

fn glob(pattern: &[u8], s: &[u8]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// The files of the context under `rel` (a file or a directory), relative to `rel`.
fn context_files(context: &Path, ignore: &DockerIgnore, rel: &str) -> Vec<PathBuf> {
    fn walk(context: &Path, ignore: &DockerIgnore, rel: &str, under: &Path, out: &mut Vec<PathBuf>) {
        let path = context.join(rel);
        if ignore.excludes(rel) {
            return;
        }
        if path.is_dir() {
            let mut entries: Vec<_> =
                std::fs::read_dir(&path).expect("read dir").map(|e| e.expect("entry").file_name()).collect();
            entries.sort();
            for name in entries {
                let name = name.to_str().expect("UTF-8 file name");
                walk(context, ignore, &format!("{rel}/{name}"), &under.join(name), out);
            }
        } else if path.exists() {
            out.push(under.to_path_buf());
        }
    }
    let mut out = Vec::new();
    walk(context, ignore, rel, Path::new(""), &mut out);
    out
}

// ---------------------------------------------------------------------------------- the replay

/// `cargo` as the replay runs it: `cargo build` is the real one with [`RUSTC_SHIM`] as its
/// `RUSTC_WRAPPER`, so it loads the manifest and finds every target's source file, resolves the
/// lockfile (with the same `--locked`) and plans the build, then stops at the first compile; then
/// `cargo metadata` (host platform) tells what it would have made. Each build is logged to
/// $REPLAY_LOG as `<n>.build` (profile, and whether it was locked) and `<n>.json`. Every other
/// command is the real cargo.
const CARGO_SHIM: &str = r#"#!/bin/sh
[ "$1" = build ] || exec "$REPLAY_CARGO" "$@"
n=$(ls "$REPLAY_LOG" | wc -l)
profile=debug
locked=
for a in "$@"; do
  case "$a" in
    build) ;;
    --release) profile=release ;;
    --locked) locked=--locked ;;
    *) echo "replay: cargo build $a is not emulated (tests/image.rs)" >&2; exit 1 ;;
  esac
done
rm -f "$REPLAY_STOP"
if RUSTC_WRAPPER="$REPLAY_RUSTC" "$REPLAY_CARGO" "$@" 2> "$REPLAY_STOP.err"; then :
elif [ -e "$REPLAY_STOP" ]; then echo "replay: cargo build stopped at its first compile: $(cat "$REPLAY_STOP")"
else cat "$REPLAY_STOP.err" >&2; exit 1
fi
echo "$profile $locked" > "$REPLAY_LOG/$n.build"
exec "$REPLAY_CARGO" metadata --format-version 1 --filter-platform "$REPLAY_HOST" $locked > "$REPLAY_LOG/$n.json"
"#;

/// rustc as the replay's `cargo build` runs it: cargo's questions (`-vV`, the target probe of crate
/// `___`) answered by the real rustc, a compile refused, its crate named in $REPLAY_STOP.
const RUSTC_SHIM: &str = r#"#!/bin/sh
rustc=$1
shift
case " $* " in
  *" --crate-name ___ "*) ;;
  *" --crate-name "*)
    echo "$*" | sed 's/.*--crate-name \([^ ]*\).*/\1/' > "$REPLAY_STOP"
    exit 1 ;;
esac
exec "$rustc" "$@"
"#;

/// One `cargo build` of the replay.
struct Build {
    profile: String,
    locked: bool,
    metadata: Value,
}

/// The replay of a stage: its `cargo build`s, and the image's file system root on this machine.
struct Replay {
    builds: Vec<Build>,
    root: PathBuf,
}

impl Replay {
    /// A path of the image, from a path on this machine under its root.
    fn image_path(&self, host: &str) -> String {
        let rel = Path::new(host)
            .strip_prefix(&self.root)
            .unwrap_or_else(|_| panic!("{host} is outside the image"));
        format!("/{}", rel.display())
    }
}

/// The real cargo: $CARGO (set when cargo runs the tests), else the first `cargo` on PATH.
fn real_cargo() -> PathBuf {
    if let Some(cargo) = std::env::var_os("CARGO") {
        return PathBuf::from(cargo);
    }
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path).map(|d| d.join("cargo")).find(|p| p.is_file()).expect("cargo on PATH")
}

fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").to_string()
}

/// Replays stage `name` of `dockerfile` with `context` as the build context, in `dir`. An error
/// names the instruction that failed and its output.
fn replay(dockerfile: &str, name: &str, context: &Path, dir: &Path) -> Result<Replay, String> {
    let stages = stages(dockerfile);
    let stage = stages
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("the Dockerfile has no stage {name}"));
    assert!(
        !stages.iter().any(|s| s.name.as_deref() == Some(stage.image.as_str())),
        "stage {name} builds on another stage: not emulated"
    );
    let ignore = DockerIgnore::load(context);
    std::fs::create_dir_all(dir.join("root")).expect("root");
    std::fs::create_dir_all(dir.join("bin")).expect("bin");
    std::fs::create_dir_all(dir.join("log")).expect("log");
    let root = dir.join("root").canonicalize().expect("root");
    for (name, script) in [("bin/cargo", CARGO_SHIM), ("rustc-wrapper", RUSTC_SHIM)] {
        std::fs::write(dir.join(name), script).expect("shim");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = std::env::join_paths(
        std::iter::once(dir.join("bin"))
            .chain(std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))),
    )
    .expect("PATH");
    let (cargo, host) = (real_cargo(), host_triple());

    let mut workdir = String::from("/");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let image = |workdir: &str, p: &str| -> PathBuf {
        assert!(!p.split('/').any(|c| c == ".."), "{p}: `..` is not emulated");
        let full = if p.starts_with('/') { p.to_string() } else { format!("{workdir}/{p}") };
        full.split('/').filter(|c| !c.is_empty() && *c != ".").fold(root.clone(), |path, c| path.join(c))
    };
    for ins in &stage.body {
        let line = format!("{} {}", ins.keyword, ins.args);
        match ins.keyword.as_str() {
            "WORKDIR" => {
                workdir = if ins.args.starts_with('/') {
                    ins.args.clone()
                } else {
                    format!("{workdir}/{}", ins.args)
                };
                std::fs::create_dir_all(image(&workdir, ".")).expect("workdir");
            }
            "ARG" | "ENV" => {
                let (key, value) = match ins.args.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None if ins.keyword == "ENV" => ins
                        .args
                        .split_once(char::is_whitespace)
                        .map(|(k, v)| (k, Some(v)))
                        .unwrap_or((&ins.args, None)),
                    None => (ins.args.as_str(), None),
                };
                assert!(!key.contains(char::is_whitespace), "{line}: one variable per line is emulated");
                if let Some(value) = value {
                    env.insert(key.to_string(), value.trim().trim_matches('"').to_string());
                }
            }
            "LABEL" => {}
            "COPY" => {
                let words: Vec<&str> = ins.args.split_whitespace().collect();
                assert!(
                    !ins.args.starts_with('[')
                        && words.iter().all(|w| !w.starts_with("--") || w.starts_with("--chown=")),
                    "{line}: not emulated"
                );
                let words: Vec<&str> = words.into_iter().filter(|w| !w.starts_with("--")).collect();
                let (dest, sources) =
                    words.split_last().filter(|(_, s)| !s.is_empty()).expect("COPY src… dest");
                let into_dir = dest.ends_with('/') || sources.len() > 1 || image(&workdir, dest).is_dir();
                for source in sources {
                    assert!(!source.contains(['*', '?']), "{line}: wildcards are not emulated");
                    let rel = source.trim_start_matches("./").trim_matches('/');
                    let files = context_files(context, &ignore, rel);
                    if files.is_empty() {
                        return Err(format!("{line}: {source} is not in the build context"));
                    }
                    let is_dir = context.join(rel).is_dir();
                    for file in files {
                        let to = match (is_dir, into_dir) {
                            (true, _) => image(&workdir, dest).join(&file),
                            (false, true) => {
                                image(&workdir, dest).join(Path::new(rel).file_name().expect("name"))
                            }
                            (false, false) => image(&workdir, dest),
                        };
                        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                        let from = if is_dir { context.join(rel).join(&file) } else { context.join(rel) };
                        std::fs::copy(&from, &to)
                            .unwrap_or_else(|e| panic!("{line}: {}: {e}", from.display()));
                    }
                }
            }
            "RUN" => {
                assert!(!ins.args.starts_with('['), "{line}: the exec form is not emulated");
                if let Some(word) = ins.args.split_whitespace().find(|w| w.starts_with('/')) {
                    return Err(format!(
                        "{line}: {word} is outside the build's directory; the replay runs on this machine"
                    ));
                }
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(&ins.args)
                    .current_dir(image(&workdir, "."))
                    .env_remove("CARGO_TARGET_DIR")
                    .env_remove("CARGO_BUILD_TARGET_DIR")
                    .envs(&env)
                    .env("PATH", &path)
                    .env("REPLAY_CARGO", &cargo)
                    .env("REPLAY_HOST", &host)
                    .env("REPLAY_LOG", dir.join("log"))
                    .env("REPLAY_RUSTC", dir.join("rustc-wrapper"))
                    .env("REPLAY_STOP", dir.join("stop"))
                    .env_remove("RUSTC_WRAPPER")
                    .output()
                    .expect("sh runs");
                if !out.status.success() {
                    return Err(format!(
                        "{line}: {}\n{}{}",
                        out.status,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            _ => panic!("{line}: not emulated by the replay (tests/image.rs)"),
        }
    }

    let mut builds = Vec::new();
    for n in 0.. {
        let Ok(build) = std::fs::read_to_string(dir.join(format!("log/{}.build", 2 * n))) else { break };
        let json = std::fs::read_to_string(dir.join(format!("log/{}.json", 2 * n))).expect("metadata");
        let (profile, locked) = build.trim().split_once(' ').unwrap_or((build.trim(), ""));
        builds.push(Build {
            profile: profile.to_string(),
            locked: locked == "--locked",
            metadata: serde_json::from_str(&json).expect("cargo metadata is JSON"),
        });
    }
    Ok(Replay { builds, root })
}

fn dockerfile() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile")
}

/// The stage the runtime copies the binary from, and the path it copies.
fn build_stage_and_binary(dockerfile: &str) -> (String, String) {
    let copies = copies_from(&stages(dockerfile));
    assert_eq!(copies.len(), 1, "the runtime stage copies one file from the build: {copies:?}");
    copies.into_iter().next().expect("one")
}

/// `1.95.0` → (1, 95, 0); `1.89` → (1, 89, 0).
fn version(s: &str) -> (u64, u64, u64) {
    let mut parts = s.split('.').map(|p| p.parse::<u64>().unwrap_or_else(|_| panic!("version {s}")));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn the_build_stage_replayed_from_the_dockerfile_gets_to_the_binary() {
    let dockerfile = dockerfile();
    let (stage, binary) = build_stage_and_binary(&dockerfile);
    let dir = temp_dir("image");
    let replay = replay(&dockerfile, &stage, Path::new(ROOT), &dir).unwrap_or_else(|e| panic!("{e}"));

    assert!(!replay.builds.is_empty(), "the build stage runs no cargo build");
    assert!(replay.builds.iter().all(|b| b.locked), "every cargo build of the image is --locked");
    // What the runtime copies is the binary the last build makes.
    let last = replay.builds.last().expect("a build");
    let target = replay.image_path(last.metadata["target_directory"].as_str().expect("target_directory"));
    let root_id = last.metadata["resolve"]["root"].as_str().expect("a root package");
    let package = last.metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["id"] == root_id)
        .expect("the root package");
    let binaries: Vec<String> = package["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        .map(|t| format!("{target}/{}/{}", last.profile, t["name"].as_str().expect("name")))
        .collect();
    assert!(binaries.contains(&binary), "the runtime copies {binary}; the last build makes {binaries:?}");

    // The toolchain image is at least as new as every locked package (this one included) asks.
    let image = &stages(&dockerfile)
        .into_iter()
        .find(|s| s.name.as_deref() == Some(stage.as_str()))
        .expect("stage")
        .image;
    let tag = image
        .strip_prefix("rust:")
        .unwrap_or_else(|| panic!("the build stage is not an official rust image: {image}"));
    let rust = version(tag.split(['-', '@']).next().expect("version"));
    for build in &replay.builds {
        for package in build.metadata["packages"].as_array().expect("packages") {
            if let Some(wanted) = package["rust_version"].as_str() {
                assert!(rust >= version(wanted), "{image} is older than {} asks ({wanted})", package["name"]);
            }
        }
    }
}

#[test]
fn the_replay_fails_where_a_declared_target_is_missing() {
    // The dependency layer without the benches the manifest declares: today's fix undone.
    let dockerfile = dockerfile();
    let broken = dockerfile.replacen("COPY benches benches\n", "", 1);
    assert_ne!(broken, dockerfile, "the dependency layer copies benches/");
    let (stage, _) = build_stage_and_binary(&broken);
    let dir = temp_dir("image_broken");
    let Err(error) = replay(&broken, &stage, Path::new(ROOT), &dir) else {
        panic!("the replay passed without benches/")
    };
    assert!(error.contains("can't find") && error.contains("bench"), "{error}");
}

#[test]
fn dockerignore_is_applied_as_docker_does() {
    let ignore = DockerIgnore(
        ["target", "*.md", "tests/*.rs", "docs/**/draft", "!keep.md"]
            .iter()
            .map(|p| {
                let (exclude, p) = p.strip_prefix('!').map_or((true, *p), |p| (false, p));
                (exclude, p.split('/').map(str::to_string).collect())
            })
            .collect(),
    );
    for (path, excluded) in [
        ("target", true),
        ("target/release/x", true),
        ("README.md", true),
        ("keep.md", false),
        ("docs/README.md", false),
        ("tests/cli.rs", true),
        ("tests/fixtures/a.json", false),
        ("docs/a/b/draft/x", true),
        ("docs/draft", true),
        ("src/main.rs", false),
    ] {
        assert_eq!(ignore.excludes(path), excluded, "{path}");
    }
}

/// An image reference that cannot float: a digest, or a tag with an exact `x.y.z` version.
fn pinned(image: &str) -> bool {
    if let Some((_, digest)) = image.split_once("@sha256:") {
        return digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let tag = image.rsplit_once(':').map_or("", |(_, t)| t);
    let version = tag.trim_start_matches('v').split('-').next().unwrap_or("");
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn base_and_compose_images_are_pinned() {
    for good in
        ["rust:1.95.0-bookworm", "prom/prometheus:v2.55.1", &format!("x/y:nonroot@sha256:{}", "a".repeat(64))]
    {
        assert!(pinned(good), "{good}");
    }
    for floating in
        ["rust:1-bookworm", "rust:latest", "gcr.io/distroless/cc-debian12:nonroot", "grafana/grafana"]
    {
        assert!(!pinned(floating), "{floating}");
    }
    let stages = stages(&dockerfile());
    let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
    for stage in &stages {
        if !names.contains(&stage.image.as_str()) {
            assert!(pinned(&stage.image), "Dockerfile: FROM {} floats", stage.image);
        }
    }
    let compose = compose_config();
    for (name, service) in compose["services"].as_object().expect("services") {
        if let Some(image) = service["image"].as_str() {
            assert!(pinned(image), "docker-compose.yml: {name} uses {image}, which floats");
        }
    }
}

// -------------------------------------------------------------------------------------- compose

/// `docker-compose config`: the file as Compose reads it (relative paths made absolute), after
/// `config -q` validated it.
fn compose_config() -> Value {
    let run = |args: &[&str]| {
        let out = Command::new("docker-compose")
            .args(["--file", "docker-compose.yml"])
            .args(args)
            .current_dir(ROOT)
            .output()
            .expect(
                "docker-compose is installed (Debian package docker-compose; tests/setup.sh installs it)",
            );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    run(&["config", "-q"]);
    serde_saphyr::from_str(&run(&["config"])).expect("docker-compose config prints YAML")
}

/// A service's volumes as (source, target): a bind mount's source is an absolute path, a named
/// volume's its name.
fn volumes(service: &Value) -> Vec<(String, String)> {
    service["volumes"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|v| {
                    let text = v.as_str().expect("short volume syntax");
                    let mut parts = text.split(':');
                    (parts.next().expect("source").to_string(), parts.next().expect("target").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn flag<'a>(service: &'a Value, name: &str) -> &'a str {
    service["command"]
        .as_array()
        .expect("command")
        .iter()
        .find_map(|a| a.as_str().and_then(|a| a.strip_prefix(name)).and_then(|a| a.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {}", service["command"]))
}

#[test]
fn compose_file_is_valid_and_its_prometheus_loads_every_rules_file_with_its_data_on_a_volume() {
    let compose = compose_config();
    let services = compose["services"].as_object().expect("services");
    for (name, service) in services {
        for (source, _) in volumes(service).iter().filter(|(s, _)| s.starts_with('/')) {
            assert!(Path::new(source).exists(), "{name} mounts {source}, which does not exist");
        }
    }
    let prometheus = &services["prometheus"];
    let mounts = volumes(prometheus);

    // The TSDB lives on a named volume: data survives `docker compose down` and a new image.
    let storage = flag(prometheus, "--storage.tsdb.path");
    let (volume, _) =
        mounts.iter().find(|(_, t)| t == storage).unwrap_or_else(|| panic!("nothing mounted at {storage}"));
    assert!(compose["volumes"].get(volume).is_some(), "{volume} is not a named volume");

    // The container's view of the mounted files, and promtool reading the config from it.
    let dir = temp_dir("compose");
    for (source, target) in mounts.iter().filter(|(s, _)| s.starts_with('/')) {
        let to = dir.join(target.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(source, &to).unwrap_or_else(|e| panic!("{source}: {e} (a file is expected)"));
    }
    let config = dir.join(flag(prometheus, "--config.file").trim_start_matches('/'));
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output()
        .expect("promtool is installed (Debian package prometheus; tests/setup.sh installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check config: {text}");
    for shipped in ["dashboards/rules.yml", "dashboards/alerts.yml", "deploy/prometheus/shard-alerts.yml"] {
        let source = Path::new(ROOT).join(shipped);
        let (_, target) = mounts
            .iter()
            .find(|(s, _)| Path::new(s) == source)
            .unwrap_or_else(|| panic!("docker-compose.yml does not mount {shipped}"));
        let loaded = dir.join(target.trim_start_matches('/'));
        assert!(
            text.contains(&format!("Checking {}", loaded.display())),
            "Prometheus does not load {shipped}: {text}"
        );
    }
}
