//! What users give, read the same way by the config file and the web config file: regular files
//! of a bounded size, Prometheus-style durations, paths shown safely in error lines, and the
//! "unknown key, did you mean" line.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::{NOT_SHOWN, Secret, Shape, shown};

/// Reads a regular file of at most `max` bytes: a FIFO would block, a device (`/dev/zero`) never
/// end, and neither is what a config or a secret is.
pub(crate) fn read_file(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what =
            if meta.is_dir() { "a directory" } else { "not a regular file (a FIFO, a socket or a device?)" };
        return Err(std::io::Error::other(what));
    }
    let too_large = || std::io::Error::other(format!("larger than {} KiB", max / 1024));
    if meta.len() > max {
        return Err(too_large());
    }
    let mut text = String::new();
    std::fs::File::open(path)?.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(too_large());
    }
    Ok(text)
}

pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::Other => e.to_string(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
        _ => e.kind().to_string(),
    }
}

/// A path for an error line: as given (unquoted) if it is shaped like a path, not a key given
/// where its file belongs.
pub(crate) fn shown_path(path: &Path) -> String {
    let written = path.display().to_string();
    match shown(&written, Shape::Path) {
        quoted if quoted.starts_with('"') => written,
        placeholder => placeholder,
    }
}

/// A Prometheus-style duration: one or more `<number><unit>` with units `ms`, `s`, `m`, `h`
/// (`90s`, `1m30s`, `500ms`).
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
    }
    Some(total)
}

/// The YAML library's line for an unknown key of another file (`unknown field `cert_fiel`,
/// expected one of cert, cert_file at line 2, column 3`) said with the known key it is closest
/// to: `unknown key `cert_fiel` at line 2, column 3; did you mean `cert_file`?`, or with the
/// known keys when none is within two edits. The key is not repeated unless it is a
/// lower_snake_case word. `None` for another line.
pub(crate) fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let (list, at) = match rest.rfind(" at line ") {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let list = list.trim_start_matches(", expected ").trim_start_matches("one of ");
    let known: Vec<String> = list.split(", ").map(|k| k.trim_matches('`').to_string()).collect();
    let name = if Shape::Name.fits(field) { format!("`{field}`") } else { NOT_SHOWN.to_string() };
    Some(match closest(&field.to_ascii_lowercase(), &known) {
        Some(k) => format!("unknown key {name}{at}; did you mean `{k}`?"),
        None => format!("unknown key {name}{at} (known: {})", known.join(", ")),
    })
}

/// The candidate within two edits of `word`, the closest one, if any.
pub(crate) fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates.iter().map(|c| (distance(word, c), c.as_str())).filter(|(d, _)| *d <= 2).min().map(|(_, c)| c)
}

/// The Levenshtein distance of two short strings.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A configuration problem: the process exits with code 2 and prints this one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A [`ConfigError`] saying `msg`.
pub(crate) fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Looks an environment variable up.
pub(crate) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;
/// Reads a credential file.
pub type ReadFile<'a> = dyn Fn(&Path) -> Result<String, io::Error> + 'a;

/// One credential from the environment or a file named in the config, not both.
pub(crate) fn one_credential(
    env: &Env<'_>,
    read: &ReadFile<'_>,
    env_name: &str,
    file: Option<&PathBuf>,
    file_key: &str,
) -> Result<Option<Secret>, ConfigError> {
    match (env(env_name).filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(err(format!("{env_name} and {file_key} are both set; use one"))),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => read_secret_file(read, path, file_key).map(Some),
        (None, None) => Ok(None),
    }
}

/// Both parts of a credential pair, or neither; one alone is an error naming the other.
pub(crate) fn pair<T>(
    a: Option<Secret>,
    b: Option<Secret>,
    names: (&str, &str),
    make: impl FnOnce(Secret, Secret) -> T,
) -> Result<Option<T>, ConfigError> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some(make(a, b))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(err(format!("{} is set but {} is missing", names.0, names.1))),
        (None, Some(_)) => Err(err(format!("{} is set but {} is missing", names.1, names.0))),
    }
}

/// The duration `value` of the key `at` (`default` when unset): at least `min`, else an error
/// line naming the key with an `example`.
pub(crate) fn duration(
    value: &Option<String>,
    at: &str,
    default: Duration,
    min: Duration,
    example: &str,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(v).filter(|d| *d >= min).ok_or_else(|| {
            err(format!("{at}: invalid duration {} (e.g. {example})", shown(v, Shape::Duration)))
        }),
    }
}

/// The interval of the key `at` (the quality or the platform collectors'): 5m by default, at
/// least 100ms.
pub(crate) fn interval(value: &Option<String>, at: &str) -> Result<Duration, ConfigError> {
    duration(value, at, Duration::from_secs(300), Duration::from_millis(100), "5m")
}

/// Fails on the first item listed twice: quoted if it has the list's `shape`, else by position.
pub(crate) fn no_repeats<'a>(
    items: impl Iterator<Item = &'a str>,
    key: &str,
    shape: Shape,
) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashMap::new();
    for (n, item) in items.enumerate() {
        if let Some(first) = seen.insert(item, n) {
            let value = shown(item, shape);
            return Err(err(if value == NOT_SHOWN {
                format!("{key}: entries {} and {} are the same {NOT_SHOWN}; list each once", first + 1, n + 1)
            } else {
                format!("{key}: {value} is listed twice")
            }));
        }
    }
    Ok(())
}

/// Reads a credential file: surrounding white space (a trailing newline) is not part of it.
pub(crate) fn read_secret_file(read: &ReadFile<'_>, path: &Path, key: &str) -> Result<Secret, ConfigError> {
    // Only a value shaped like a path is printed: a key written where its file's name belongs
    // is not.
    let written = path.to_string_lossy();
    let hint = "; expected the path of a file holding the secret, e.g. /run/secrets/sobot_app_key \
                (never the secret itself)";
    let (file, hint) = if shown(&written, Shape::Path) == NOT_SHOWN {
        (format!("the file named there {NOT_SHOWN}"), hint)
    } else {
        (written.into_owned(), "")
    };
    let content =
        read(path).map_err(|e| err(format!("{key}: cannot read {file}: {}{hint}", io_reason(&e))))?;
    let value = content.trim();
    if value.is_empty() {
        return Err(err(format!("{key}: {file} is empty")));
    }
    Ok(Secret::new(value))
}

/// Parses the YAML text of the config file at `path` (`None`: no file) as `T`; empty text is
/// `T::default()`. An error is one line: `yaml_error`'s (the config's own terms, no snippet: a
/// line of the file could hold a secret someone put inline), after the file's path.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned + Default>(
    yaml: &str,
    path: Option<&Path>,
    yaml_error: fn(&serde_saphyr::Error, &str) -> String,
) -> Result<T, ConfigError> {
    if yaml.trim().is_empty() {
        return Ok(T::default());
    }
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(yaml, options).map_err(|e| {
        let line = yaml_error(&e, yaml);
        match path {
            Some(path) => err(format!("{}: {line}", path.display())),
            None => err(line),
        }
    })
}

/// A directory of its own under the system's temporary one for a test, removed with its contents
/// when dropped (a failing test's included).
#[cfg(test)]
pub(crate) struct TempDir(pub(crate) PathBuf);

#[cfg(test)]
impl TempDir {
    /// `sobot_exporter_<name>_<pid>`, empty.
    pub(crate) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sobot_exporter_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }

    /// Writes `text` to the file `name` in it; its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("timzone", "timezone"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
