//! The documents' example answers of the Sobot endpoints, embedded by name: every
//! `tests/fixtures/sobot/<endpoint>.json` becomes an entry of `SOBOT_FIXTURES`, so that a new
//! endpoint's fixture needs no line of code here.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let dir = PathBuf::from(manifest).join("../../tests/fixtures/sobot");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out =
        String::from("/// The documents' example answers, by endpoint name (from `tests/fixtures/sobot`).\n");
    out.push_str("pub(crate) const SOBOT_FIXTURES: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(format!("{name}.json"));
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_string())).join("sobot_fixtures.rs");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("cannot write {}: {e}", target.display());
    }
}
