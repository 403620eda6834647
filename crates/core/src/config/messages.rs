//! Error lines that help: the YAML library's errors said in the config's own terms (which key,
//! what is needed), suggestions for a mistyped time zone or key, and the refusal of inline
//! secrets with what to use instead. A line quotes a value only where it has the shape of its
//! field (see [`Shape`]), and never one that looks like a credential.

use serde_saphyr::Error;

pub(crate) use crate::input::closest;
use crate::input::distance;
use crate::secret::{NOT_SHOWN, Shape, looks_like_credential};

/// The general keys of the config file (those of no source); the sources' sections and their
/// keys come from the registry ([`known_key`]).
const GENERAL_KEYS: &[&str] = &[
    "timezone",
    "windows",
    "collectors",
    "groups",
    "agents",
    "max_agents",
    "collector_windows",
    "agent_score_evaluations",
];

/// Whether `key` is a key the config file knows, at any depth: only these are named from the
/// file's text.
fn known_key(key: &str) -> bool {
    GENERAL_KEYS.contains(&key) || crate::sources::is_section_key(key)
}

/// Whether `key` names a collector (a key of `collector_windows`).
fn is_collector(key: &str) -> bool {
    crate::config::CollectorKind::all().iter().any(|k| k.name() == key)
}

/// An example value of each list key, for "a list is needed" lines, and the shape of its
/// entries.
fn list_example(key: &str) -> (&'static str, Shape) {
    match key {
        "windows" => ("today", Shape::Name),
        _ if is_collector(key) => ("today", Shape::Name),
        "collectors" => ("robot_session, human_session", Shape::Name),
        "groups" => ("GROUP_ID", Shape::Number),
        "agents" => ("AGENT_ID", Shape::Number),
        _ => ("COMPANY_ID", Shape::Number),
    }
}

/// One line for a YAML error of the config `yaml`: what is wrong, in which key (when the file's
/// layout shows it) and where, without the library's internals and without quoting a value.
pub(crate) fn yaml_error(e: &Error, yaml: &str) -> String {
    let e = innermost(e);
    let location = e.location().filter(|l| l.line() > 0);
    let at = location.map(|l| format!(" at line {}, column {}", l.line(), l.column())).unwrap_or_default();
    let path = location.and_then(|l| key_path(yaml, l.line(), l.column())).unwrap_or_default();
    let key =
        |what: &str| if path.is_empty() { what.to_string() } else { format!("{}: {what}", path.join(".")) };
    let too_large = "the file is too large or too deeply nested for a config file (too many entries, \
                     aliases or levels); write it out plainly";
    match e {
        Error::Unexpected { expected: "sequence start", .. } => {
            let name = path.last().map_or("windows", String::as_str);
            let (example, shape) = list_example(name);
            let written = location.and_then(|l| scalar_at(yaml, l.line(), l.column()));
            let example = written.filter(|w| shape.fits(w)).unwrap_or_else(|| example.to_string());
            key(&format!("a list is needed, e.g. `{name}: [{example}]`{at}"))
        }
        Error::Unexpected { expected: "mapping start", .. } if path.is_empty() => {
            format!("the file must hold settings as `key: value` lines, e.g. `timezone: Asia/Shanghai`{at}")
        }
        Error::Unexpected { expected: "mapping start", .. } => {
            key(&format!("a section of `key: value` lines is needed, not a single value or a list{at}"))
        }
        Error::Unexpected { expected: "string scalar" | "scalar", .. } => {
            key(&format!("a single value is needed, not a list or a section{at}"))
        }
        Error::InvalidScalar { ty: "bool" | "boolean", .. } | Error::InvalidBooleanStrict { .. } => {
            key(&format!("`true` or `false` is needed{at}"))
        }
        Error::InvalidScalar { ty, .. } if ty.starts_with(['u', 'i']) => {
            key(&format!("a whole number is needed{at}"))
        }
        Error::InvalidScalar { .. } => key(&format!("a number is needed{at}")),
        Error::NullIntoString { .. } => key(&format!("an entry is empty{at}")),
        Error::SerdeUnknownField { field, expected, .. } => unknown_key(field, expected, &at),
        Error::DuplicateMappingKey { key: Some(name), .. } if known_key(name) => {
            let mut full = path.clone();
            full.push(name.clone());
            format!("{} is set twice; keep one{at}", full.join("."))
        }
        Error::DuplicateMappingKey { .. } => format!("a key is set twice; keep one{at}"),
        Error::MultipleDocuments { .. } => {
            format!("the file holds a second YAML document (a `---` line){at}; a config is one document")
        }
        Error::UnknownAnchor { .. } => format!("an alias (`*name`) refers to no anchor (`&name`){at}"),
        Error::UnsupportedTag { .. } => {
            format!("YAML tags (`!!str`, `!custom`) are not supported: remove it{at}")
        }
        Error::Eof { .. } | Error::Message { .. } if unclosed(yaml, location).is_some() => {
            unclosed(yaml, location).unwrap_or_default()
        }
        Error::Eof { .. } => {
            format!("the file ends in the middle of a value (an unclosed quote or bracket?){at}")
        }
        Error::Budget { .. }
        | Error::AliasReplayCounterOverflow { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => too_large.to_string(),
        other => {
            let text = other.to_string();
            if text.contains("recursion limit") {
                return too_large.to_string();
            }
            if let Some(line) = unclosed(yaml, location) {
                return line;
            }
            readable(&text)
        }
    }
}

/// The line for a syntax error met while a flow list or section (`[`, `{`) opened before it is
/// still open: the parser only notices at the next key, a line late, so the bracket is named
/// where it was opened. `None` when no bracket is open at `location` (the end of the file when
/// there is none).
fn unclosed(yaml: &str, location: Option<serde_saphyr::Location>) -> Option<String> {
    let (end_line, end_column) = location.map_or((u64::MAX, u64::MAX), |l| (l.line(), l.column()));
    let mut open: Vec<(u64, u64, char)> = Vec::new();
    for (index, text) in yaml.lines().enumerate() {
        let line = index as u64 + 1;
        if line > end_line {
            break;
        }
        let mut quote: Option<char> = None;
        // The last character other than a space on this line: a bracket or quote starts a value
        // only at the line's start or after `:`, `-`, `,` or another bracket.
        let mut last: Option<char> = None;
        let mut previous = ' ';
        for (i, c) in text.chars().enumerate() {
            let column = i as u64 + 1;
            // The error's own position is included: the parser may point at the bracket.
            if line == end_line && column > end_column {
                break;
            }
            let starts_value = matches!(last, None | Some(':' | '-' | ',' | '[' | '{'));
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if previous == ' ' => break,
                (None, '"' | '\'') if starts_value => quote = Some(c),
                (None, '[' | '{') if starts_value => open.push((line, column, c)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
            if c != ' ' {
                last = Some(c);
            }
            previous = c;
        }
    }
    let &(line, column, bracket) = open.last()?;
    let (what, close) = if bracket == '[' { ("list", ']') } else { ("section", '}') };
    let path = key_path(yaml, line, column).filter(|p| !p.is_empty());
    let key = path.map(|p| format!("{}: ", p.join("."))).unwrap_or_default();
    Some(format!(
        "{key}the `{bracket}` at line {line}, column {column} is never closed: end the {what} with \
         `{close}` (entries may go on several lines, each but the last followed by a comma)"
    ))
}

/// The error itself, out of the snippet and alias wrappers.
fn innermost(e: &Error) -> &Error {
    match e.without_snippet() {
        Error::AliasError { error, .. } => innermost(error),
        other => other,
    }
}

/// The library's own text made one line, without its advice to programmers (`; use …`,
/// `, set … in Options`) and without anything that looks like a credential.
fn readable(text: &str) -> String {
    let one_line = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    let cut = ["; use ", ", set "].iter().filter_map(|m| one_line.find(m)).min();
    let (message, location) = match (cut, one_line.rfind(" at line ")) {
        (Some(cut), Some(at)) if cut < at => (&one_line[..cut], &one_line[at..]),
        (Some(cut), _) => (&one_line[..cut], ""),
        (None, _) => (one_line.as_str(), ""),
    };
    let words: Vec<&str> =
        message.split(' ').map(|w| if looks_like_credential(w) { "<redacted>" } else { w }).collect();
    format!("{}{location}", words.join(" "))
}

/// The line for an unknown top-level key of the file `yaml` (one of no source's sections): where
/// it is when a line starts with it, with the keys known there.
pub(crate) fn unknown_top_level_key(key: &str, yaml: &str) -> String {
    let at = yaml
        .lines()
        .position(|line| line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
        .map(|i| format!(" at line {}, column 1", i + 1))
        .unwrap_or_default();
    let sections = crate::sources::SOURCES.into_iter().flat_map(|s| s.sections.iter().copied());
    let expected: Vec<&str> = GENERAL_KEYS.iter().copied().chain(sections).collect();
    unknown_key(key, &expected, &at)
}

/// An unknown key: an inline secret is refused with what to use instead, a typo gets the key it
/// is closest to, anything else the keys known there.
fn unknown_key(field: &str, expected: &[&str], at: &str) -> String {
    // The known keys of the section say which section it is.
    let section = if expected.contains(&"app_key_file") {
        "sobot"
    } else if expected.contains(&"api_key_file") {
        "laaffic"
    } else if expected.contains(&"union_key_file") {
        "platform"
    } else if expected.contains(&"include_ids") {
        "platform.tenants"
    } else if expected.contains(&"page_size") {
        "quality"
    } else {
        ""
    };
    let prefix = if section.is_empty() { String::new() } else { format!("{section}: ") };
    if looks_like_credential(field) {
        return format!(
            "{prefix}unknown key that looks like a credential (not shown){at}: secrets are read from files \
             or the environment only (see --help)"
        );
    }
    let normalized: String =
        field.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let secret_word =
        ["key", "secret", "password", "token", "appkey", "apikey", "unionkey", "appsecret", "apisecret"]
            .iter()
            .any(|w| normalized == *w || normalized.ends_with(w) && normalized.len() <= 12);
    if secret_word {
        let (file_key, env) = match section {
            "laaffic" if normalized.contains("secret") => ("laaffic.api_secret_file", "LAAFFIC_API_SECRET"),
            "laaffic" => ("laaffic.api_key_file", "LAAFFIC_API_KEY"),
            "platform" | "platform.tenants" => ("platform.union_key_file", "SOBOT_PLATFORM_UNION_KEY"),
            _ => ("sobot.app_key_file", "SOBOT_APP_KEY"),
        };
        let name = if section.is_empty() { field.to_string() } else { format!("{section}.{field}") };
        return format!(
            "{name}{at}: inline secrets are refused on purpose (a config file is read by many and kept in \
             version control): put it in a file named by {file_key}, or set {env}"
        );
    }
    if section.is_empty() && field == "interval" {
        return format!(
            "unknown key `interval`{at}: the collection interval is a flag, --collect.interval \
             (e.g. --collect.interval=60s); `interval:` is a key of the quality and platform sections only"
        );
    }
    // Keys are lower_snake_case words: another name is not repeated (it could be a value).
    let name = if Shape::Name.fits(field) { format!("`{field}`") } else { NOT_SHOWN.to_string() };
    let lower = field.to_ascii_lowercase();
    let closest = expected.iter().map(|k| (distance(&lower, k), *k)).filter(|(d, _)| *d <= 2).min();
    match closest {
        Some((_, k)) => format!("{prefix}unknown key {name}{at}; did you mean `{k}`?"),
        None => format!("{prefix}unknown key {name}{at} (known: {})", expected.join(", ")),
    }
}

/// The keys leading to the node at `line`/`column` (1-based) of a block-style file: those before
/// the column on its line (flow mappings), then each less indented `key:` line above it. `None`
/// when the layout does not show it plainly or a key is not one the config knows.
fn key_path(yaml: &str, line: u64, column: u64) -> Option<Vec<String>> {
    let lines: Vec<&str> = yaml.lines().collect();
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let here = lines.get(index)?;
    let before: String = here.chars().take(usize::try_from(column).ok()?.saturating_sub(1)).collect();
    let mut path: Vec<String> = Vec::new();
    let mut indent = indentation(here);
    for line in lines[..index].iter().rev() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') || indentation(line) >= indent {
            continue;
        }
        indent = indentation(line);
        path.push(leading_key(content)?);
        if indent == 0 {
            break;
        }
    }
    path.reverse();
    // Keys on the line itself, before the column (`sobot: {timeout: [1]}`).
    let mut rest = before.trim_start().trim_start_matches("- ");
    while let Some(colon) = rest.find(':') {
        let name = rest[..colon].trim().trim_start_matches(['{', ',', ' ']);
        path.push(name.trim().to_string());
        rest = rest[colon + 1..].trim_start().trim_start_matches('{');
    }
    path.iter().all(|k| known_key(k) || is_collector(k)).then_some(path)
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `key` of a `key:` or `key: value` line.
fn leading_key(content: &str) -> Option<String> {
    let (key, _) = content.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then(|| key.to_string())
}

/// The plain scalar written at `line`/`column`, if it is a short word that is safe to repeat.
fn scalar_at(yaml: &str, line: u64, column: u64) -> Option<String> {
    let here = yaml.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let from: String = here.chars().skip(usize::try_from(column).ok()?.saturating_sub(1)).collect();
    let value = from.split(" #").next()?.trim().trim_matches(['"', '\'']);
    let plain = !value.is_empty()
        && value.len() <= 40
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:".contains(&b));
    (plain && !looks_like_credential(value)).then(|| value.to_string())
}

/// A time zone the unknown `name` probably means: a city or country the tz database names by
/// another city (`Beijing` → `Asia/Shanghai`), a zone written in another case or with spaces, or
/// the zone whose city is within two edits of it.
pub(crate) fn suggest_zone(name: &str) -> Option<String> {
    let squash = |s: &str| -> String {
        s.chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '\'')).flat_map(char::to_lowercase).collect()
    };
    let wanted = squash(name);
    let by_city = match wanted.as_str() {
        "beijing" | "peking" | "china" | "prc" | "shenzhen" | "guangzhou" | "hangzhou" | "chengdu"
        | "nanjing" | "wuhan" | "xian" | "tianjin" | "chongqing" | "suzhou" | "北京" | "上海" | "中国"
        | "utc+8" | "gmt+8" | "utc+08:00" | "gmt+08:00" | "+08:00" | "+0800" | "+8" | "cst" => {
            Some("Asia/Shanghai")
        }
        "hongkong" | "香港" => Some("Asia/Hong_Kong"),
        "taiwan" | "台北" => Some("Asia/Taipei"),
        "utc+0" | "gmt+0" | "gmt" | "z" | "zulu" => Some("UTC"),
        _ => None,
    };
    if let Some(zone) = by_city {
        return Some(zone.to_string());
    }
    let db = jiff::tz::db();
    let names: Vec<String> = db.available().map(|n| n.as_str().to_string()).collect();
    let city = |zone: &str| squash(zone.rsplit('/').next().unwrap_or(zone));
    if let Some(zone) = names.iter().find(|z| squash(z) == wanted || city(z) == wanted) {
        return Some(zone.clone());
    }
    let wanted_city = squash(name.rsplit('/').next().unwrap_or(name));
    if wanted_city.chars().count() < 5 {
        return None;
    }
    names
        .iter()
        .filter(|z| z.contains('/') && !z.starts_with("Etc/"))
        .map(|z| (distance(&city(z), &wanted_city), z))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, z)| z.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_suggested() {
        for (written, want) in [
            ("Beijing", "Asia/Shanghai"),
            ("beijing", "Asia/Shanghai"),
            ("UTC+8", "Asia/Shanghai"),
            ("shanghai", "Asia/Shanghai"),
            ("Asia/Shanghia", "Asia/Shanghai"),
            ("asia/tokyo", "Asia/Tokyo"),
            ("Hong Kong", "Asia/Hong_Kong"),
            ("Singapore", "Asia/Singapore"),
        ] {
            assert_eq!(suggest_zone(written).as_deref(), Some(want), "{written}");
        }
        assert_eq!(suggest_zone("Mars/Olympus"), None);
        assert_eq!(suggest_zone("8748cd7faeb1401ab3d97cf45013afc4"), None);
    }

    #[test]
    fn key_paths_follow_the_layout() {
        let yaml =
            "timezone: UTC\nsobot:\n  # comment\n  timeout: [1]\nplatform:\n  tenants:\n    include_ids: x\n";
        assert_eq!(key_path(yaml, 1, 11), Some(vec!["timezone".to_string()]));
        assert_eq!(key_path(yaml, 4, 12), Some(vec!["sobot".to_string(), "timeout".to_string()]));
        let tenants = key_path(yaml, 7, 18).expect("path");
        assert_eq!(tenants, ["platform", "tenants", "include_ids"]);
        assert_eq!(key_path("sobot: {timeout: [1]}\n", 1, 18), Some(vec!["sobot".into(), "timeout".into()]));
        assert_eq!(key_path("windows:\n  today\n", 2, 3), Some(vec!["windows".to_string()]));
        assert_eq!(key_path("8748cd7faeb1401ab3d97cf45013afc4: [1]\n", 1, 35), None);
    }
}
