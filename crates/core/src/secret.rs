//! A string that must never be printed: app keys, API secrets and tokens.

use std::fmt;

/// A credential. `Debug` and `Display` print a placeholder; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for signing or sending. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Whether `value` looks like a credential: it holds a run of at least 12 ASCII letters and
/// digits mixing both (Sobot app keys are 32 hex digits, the platform's 12 letters and digits),
/// or a run of at least 24 of them. Error lines never quote such a value: a key put in the wrong
/// field or flag would be printed otherwise. Words, names, paths of words, durations, time zones
/// and URLs do not look like one.
pub(crate) fn looks_like_credential(value: &str) -> bool {
    value.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        let mixed = run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        (run.len() >= 12 && mixed) || run.len() >= 24
    })
}

/// `text` with every word that looks like a credential ([`looks_like_credential`]) replaced by
/// `<redacted>` (quotes and punctuation around it kept): for text we did not write, such as a
/// library's error message.
pub(crate) fn mask_credentials(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .map(|word| {
            if !looks_like_credential(word) {
                return word.to_string();
            }
            let edge = |c: char| "'\"`([{,.;:)]}".contains(c);
            let start = word.len() - word.trim_start_matches(edge).len();
            let end = word.trim_end_matches(edge).len().max(start);
            format!("{}<redacted>{}", &word[..start], &word[end..])
        })
        .collect();
    words.join(" ")
}

/// What a field's values look like: an error line quotes a rejected value only when it has the
/// shape of its field (a mistyped time zone, a path, a duration), so that a key put in the wrong
/// field is not printed whatever its vendor's format (Laaffic's keys are 8 letters and digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A time zone shaped like `Area/City` (`America/Argentina/Buenos_Aires`, `Etc/GMT+8`).
    Zone,
    /// A file path: it holds a `/` or ends in an extension (`key.txt`).
    Path,
    /// A number: a port, a count, a numeric id.
    Number,
    /// A lower-case name of words joined by `_` (`last_week`, `robot_session`).
    Name,
    /// A duration: numbers each followed by a unit of one or two letters (`1m30s`, `1.5s`, `10`).
    Duration,
    /// A listen address: `:PORT`, `HOST:PORT` or `[V6]:PORT`.
    Address,
    /// A URL: it holds `://` or a dotted host name.
    Url,
    /// `N/M` or `auto/M`.
    Fraction,
}

/// What an error line shows in place of a value that is not quoted.
pub(crate) const NOT_SHOWN: &str = "(value not shown)";

impl Shape {
    /// Whether `value` has this shape.
    pub(crate) fn fits(self, value: &str) -> bool {
        let v = value;
        let lower_word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
        let number = |w: &str| !w.is_empty() && w.len() <= 20 && w.bytes().all(|b| b.is_ascii_digit());
        let host = |w: &str| w.bytes().all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
        match self {
            Shape::Zone => {
                let parts: Vec<&str> = v.split('/').collect();
                // A capital, then letters, `_` and `-` (`Port-au-Prince`); digits only at the end
                // of an all-capital name, after an optional sign (`GMT+8`, `GMT0`): a key's mix of
                // letters and digits is no zone.
                let part = |p: &str| {
                    let name = p.trim_end_matches(|c: char| c.is_ascii_digit());
                    let name = name.strip_suffix(['+', '-']).unwrap_or(name);
                    let digits = name.len() < p.len();
                    name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                        && name.bytes().all(|b| b.is_ascii_alphabetic() || b"_-".contains(&b))
                        && (!digits || name.bytes().all(|b| b.is_ascii_uppercase()))
                };
                parts.len() >= 2
                    && parts[0].bytes().all(|b| b.is_ascii_alphabetic())
                    && parts.iter().all(|p| part(p))
            }
            Shape::Path => {
                let extension = v.rsplit_once('.').is_some_and(|(stem, ext)| {
                    !stem.is_empty()
                        && (1..=4).contains(&ext.len())
                        && ext.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                });
                v.contains('/') || extension
            }
            Shape::Number => number(v),
            Shape::Name => v.len() <= 40 && v.split('_').all(lower_word),
            Shape::Duration => {
                let mut rest = v;
                while !rest.is_empty() {
                    let digits = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
                    let unit = rest[digits..].bytes().take_while(u8::is_ascii_lowercase).count();
                    if digits == 0 || unit > 2 {
                        return false;
                    }
                    rest = &rest[digits + unit..];
                }
                !v.is_empty()
            }
            Shape::Address => v.rsplit_once(':').is_some_and(|(h, port)| host(h) && number(port)),
            Shape::Url => v.contains("://") || (v.contains('.') && host(v)),
            Shape::Fraction => {
                v.split_once('/').is_some_and(|(n, m)| (number(n) || lower_word(n)) && number(m))
            }
        }
    }
}

/// `value` quoted for an error line if it has the `shape` of its field and does not look like a
/// credential; [`NOT_SHOWN`] otherwise (the line then says what the field expects).
pub(crate) fn shown(value: &str, shape: Shape) -> String {
    if shape.fits(value) && !looks_like_credential(value) {
        format!("{value:?}")
    } else {
        NOT_SHOWN.to_string()
    }
}

/// `text` with every occurrence of each of `secrets` (those of 4 characters or more) replaced by
/// `<redacted>`.
pub(crate) fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().map(|s| s.as_ref().trim()).filter(|s| s.len() >= 4) {
        text = text.replace(secret, "<redacted>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_looks_like_a_credential() {
        for key in [
            "8748cd7faeb1401ab3d97cf45013afc4",
            "d14N6QO9e3p6",
            "demo-4f1c9e0a7b2d3c5e",
            "1deb1091-0433-4977-ae65-4d3a9096d942",
            "SuperSecret123",
            "/etc/sobot/8748cd7faeb1401ab3d97cf45013afc4",
            "abcdefghijklmnopqrstuvwxyz",
        ] {
            assert!(looks_like_credential(key), "{key}");
            assert_eq!(shown(key, Shape::Path), NOT_SHOWN, "{key}");
        }
        for word in [
            "Beijing",
            "Asia/Shanghai",
            "last_week",
            "robot_session2",
            "human_session_2024",
            "1m30s",
            "often",
            "/run/secrets/sobot_app_key",
            "https://www.sobot.com",
            "0.0.0.0:99999",
            "g1",
            "verbose",
        ] {
            assert!(!looks_like_credential(word), "{word}");
        }
    }

    /// A value is quoted only where it has its field's shape: keys of every vendor's format, with
    /// dashes or as short as Laaffic's, are not printed in any field.
    #[test]
    fn values_are_quoted_only_in_their_fields_shape() {
        let all = [
            Shape::Zone,
            Shape::Path,
            Shape::Number,
            Shape::Name,
            Shape::Duration,
            Shape::Address,
            Shape::Url,
            Shape::Fraction,
        ];
        for key in ["SbtKey-4f1c9e-q7Vm2xR9", "bDqJFiq9", "d14N6QO9e3p6", "8748cd7faeb1401ab3d97cf45013afc4"]
        {
            for shape in all {
                assert_eq!(shown(key, shape), NOT_SHOWN, "{key} as {shape:?}");
            }
            // A key behind an area is still a key, not a city.
            assert_eq!(shown(&format!("Asia/{key}"), Shape::Zone), NOT_SHOWN, "Asia/{key}");
        }
        for (value, shape) in [
            ("Mars/Olympus", Shape::Zone),
            ("America/Argentina/Buenos_Aires", Shape::Zone),
            ("Etc/GMT+8", Shape::Zone),
            ("America/Port-au-Prince", Shape::Zone),
            ("/run/secrets/missing", Shape::Path),
            ("app_key.txt", Shape::Path),
            ("0", Shape::Number),
            ("last_week", Shape::Name),
            ("1m30s", Shape::Duration),
            ("1.5s", Shape::Duration),
            ("50ms", Shape::Duration),
            ("0.0.0.0:99999", Shape::Address),
            (":9877", Shape::Address),
            ("ftp://x", Shape::Url),
            ("api.laaffic.com", Shape::Url),
            ("3/2", Shape::Fraction),
        ] {
            assert_eq!(shown(value, shape), format!("{value:?}"), "{value} as {shape:?}");
        }
        for (value, shape) in [
            ("Beijing", Shape::Zone),
            ("app_key", Shape::Path),
            ("often", Shape::Duration),
            ("Today", Shape::Name),
            ("nowhere", Shape::Address),
        ] {
            assert_eq!(shown(value, shape), NOT_SHOWN, "{value} as {shape:?}");
        }
    }

    #[test]
    fn credentials_are_masked_in_text() {
        assert_eq!(
            mask_credentials("unexpected argument '8748cd7faeb1401ab3d97cf45013afc4' found; 'verbose'."),
            "unexpected argument '<redacted>' found; 'verbose'."
        );
        assert_eq!(mask_credentials("d14N6QO9e3p6"), "<redacted>");
    }

    #[test]
    fn known_secrets_are_redacted() {
        assert_eq!(
            redact("key abcd1234 and abcd1234.", &["abcd1234", "ab", ""]),
            "key <redacted> and <redacted>."
        );
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-app-key");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(<redacted>))");
        assert_eq!(s.expose(), "hunter2-app-key");
    }
}
