//! The module graph keeps its layers: each crate's `//! # Layout` table (in its `lib.rs`) puts
//! every top-level module on a layer, and a module may import only from layers below its own.
//!
//! The imports are read from the sources as text, comments and string literals left out: `use
//! crate::…`, inline `crate::…` paths and `super::…` paths that climb to the crate's root. An
//! import from a lower layer to a higher one fails, and so does a module missing from the table, a
//! table naming a module that does not exist, or more than [`MAX_LAYERS`] layers. The layer count
//! is also measured as the longest chain of imports between modules, so a table cannot claim fewer
//! layers than the code has.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most layers a crate may have.
const MAX_LAYERS: usize = 10;

/// The library crates of the workspace, by their source folder.
const CRATES: [&str; 3] = ["crates/core/src", "crates/simulator/src", "xtask/src"];

/// A crate's modules and the imports between its top-level modules.
struct Graph {
    /// Top-level module → the top-level modules it imports, each with a file that does.
    imports: BTreeMap<String, BTreeMap<String, PathBuf>>,
    /// The top-level modules `lib.rs` declares.
    modules: BTreeSet<String>,
}

/// The text of Rust source without comments, string and character literals (each replaced by
/// a space), so that only code is searched.
fn code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // A raw string: r"…", r#"…"#.
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                i += 2 + hashes;
                while i < b.len() && !b[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                out.push(' ');
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(' ');
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A character literal ('a', '\n', '\''); a lifetime has no closing quote.
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.push(' ');
            }
            _ => {
                // Keep whole UTF-8 characters.
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + len]);
                i += len;
            }
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier at the start of `s`, after white space.
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The first names of a `{a, b::c, d::{e, f}}` group at its top level (`self` left out).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(&group[start..i]).to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    heads.push(ident(&group[start..]).to_string());
    heads.into_iter().filter(|h| !h.is_empty() && h != "self").collect()
}

/// The module path of a source file: `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` is the root.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The top-level modules a file of module `path` imports: by `crate::x` and by `super::`
/// paths that reach the root.
fn imports_of(path: &[String], text: &str) -> BTreeSet<String> {
    let text = code(text);
    let mut found = BTreeSet::new();
    let mut names_after = |rest: &str| {
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find(';').unwrap_or(group.len());
            let group = group[..end].trim_end().trim_end_matches('}');
            found.extend(group_heads(group));
        } else {
            found.insert(ident(rest).to_string());
        }
    };
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with(|c: char| is_ident(c)) {
            continue;
        }
        names_after(&text[i + "crate::".len()..]);
    }
    // `super` climbs from the file's module (a `mod.rs` file's is its folder, which
    // `module_path` already gives); the root is reached after as many as the path is long.
    let own = path.len();
    let mut i = 0;
    while let Some(at) = text[i..].find("super::") {
        let start = i + at;
        i = start + "super::".len();
        if start > 0 && text[..start].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        let mut ups = 1;
        let mut rest = &text[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        i = text.len() - rest.len();
        if own.checked_sub(ups) == Some(0) {
            names_after(rest);
        }
    }
    found
}

/// The files of `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn graph(src: &Path) -> Graph {
    let root = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let modules: BTreeSet<String> = code(&root)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect();
    let mut imports: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in rust_files(src) {
        let path = module_path(src, &file);
        let Some(top) = path.first().cloned() else { continue };
        let text = std::fs::read_to_string(&file).expect("source file");
        for target in imports_of(&path, &text) {
            if target != top && modules.contains(&target) {
                imports.entry(top.clone()).or_default().entry(target).or_insert_with(|| file.clone());
            }
        }
    }
    Graph { imports, modules }
}

/// The layer table of `lib.rs`'s `# Layout` section: rows `| N | `a`, `b` | … |`.
fn layout(src: &Path) -> BTreeMap<String, usize> {
    let root = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let doc: Vec<&str> = root.lines().filter_map(|l| l.strip_prefix("//!")).map(str::trim).collect();
    let start = doc.iter().position(|l| *l == "# Layout").expect("lib.rs has a `# Layout` section");
    let mut layers = BTreeMap::new();
    for line in doc[start..].iter().skip(1).take_while(|l| !l.starts_with("# ")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(Ok(layer)) = cells.first().map(|c| c.parse::<usize>()) else { continue };
        let Some(names) = cells.get(1) else { continue };
        for name in names.split('`').skip(1).step_by(2) {
            let name = name.trim_start_matches('[').trim_end_matches(']').to_string();
            assert!(
                layers.insert(name.clone(), layer).is_none(),
                "{}: `{name}` is on two layers",
                src.display()
            );
        }
    }
    layers
}

/// The longest chain of imports from `module` down (1 for a module that imports none).
fn depth(graph: &Graph, module: &str, memo: &mut BTreeMap<String, usize>, path: &mut Vec<String>) -> usize {
    if let Some(d) = memo.get(module) {
        return *d;
    }
    assert!(!path.iter().any(|m| m == module), "import loop: {} -> {module}", path.join(" -> "));
    path.push(module.to_string());
    let d = 1 + graph
        .imports
        .get(module)
        .map_or(0, |targets| targets.keys().map(|t| depth(graph, t, memo, path)).max().unwrap_or(0));
    path.pop();
    memo.insert(module.to_string(), d);
    d
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_crate_keeps_its_layers() {
    for krate in CRATES {
        let src = root().join(krate);
        let graph = graph(&src);
        let layers = layout(&src);
        let declared: BTreeSet<String> = layers.keys().cloned().collect();
        assert_eq!(
            declared, graph.modules,
            "{krate}: the `# Layout` table names exactly the crate's modules"
        );
        for (from, targets) in &graph.imports {
            for (to, file) in targets {
                assert!(
                    layers[to] < layers[from],
                    "{}: `{from}` (layer {}) imports `{to}` (layer {}): a module imports only from layers below its own",
                    file.display(),
                    layers[from],
                    layers[to]
                );
            }
        }
        let count = layers.values().copied().collect::<BTreeSet<_>>().len();
        assert!(count <= MAX_LAYERS, "{krate}: {count} layers, at most {MAX_LAYERS}");
        let mut memo = BTreeMap::new();
        let longest = graph.modules.iter().map(|m| depth(&graph, m, &mut memo, &mut Vec::new())).max();
        assert!(longest.unwrap_or(0) <= MAX_LAYERS, "{krate}: a chain of {longest:?} imports");
        // The table's layers are the measured ones: each module one above the highest it imports.
        for module in &graph.modules {
            let measured = memo[module];
            assert_eq!(
                layers[module], measured,
                "{krate}: `{module}` is on layer {} in the table, {measured} by its imports",
                layers[module]
            );
        }
    }
}

#[test]
fn the_check_reads_imports_as_written() {
    let text = r#"
        use crate::{alpha, beta::Thing, gamma::{x, y}, self};
        // crate::commented
        let s = "crate::quoted";
        fn f() -> crate::delta::D { super::epsilon::e() }
        use super::super::zeta;
    "#;
    let found = imports_of(&["top".to_string()], text);
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["alpha", "beta", "delta", "epsilon", "gamma"]);
    // Two levels down, `super::super::` reaches the root; one `super::` does not.
    let deep = imports_of(&["top".to_string(), "inner".to_string()], text);
    assert!(deep.contains("zeta") && !deep.contains("epsilon"), "{deep:?}");
    // A `mod.rs` file is its folder's module.
    let folder = imports_of(&["top".to_string()], "use super::sibling::S;");
    assert!(folder.contains("sibling"), "{folder:?}");
}

/// Prints each crate's measured layers (`cargo nextest run --test layers -- --ignored
/// --nocapture`), to write the `# Layout` tables from.
#[test]
#[ignore = "prints the measured layers"]
fn print_measured_layers() {
    for krate in CRATES {
        let graph = graph(&root().join(krate));
        let mut memo = BTreeMap::new();
        for m in &graph.modules {
            depth(&graph, m, &mut memo, &mut Vec::new());
        }
        let mut by_layer: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (m, d) in &memo {
            by_layer.entry(*d).or_default().push(m);
        }
        println!("{krate}: {by_layer:?}");
        for (from, targets) in &graph.imports {
            println!("  {from} -> {:?}", targets.keys().collect::<Vec<_>>());
        }
    }
}
