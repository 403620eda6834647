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
pub fn looks_like_credential(value: &str) -> bool {
    value.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        let mixed = run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        (run.len() >= 12 && mixed) || run.len() >= 24
    })
}

/// `text` with every word that looks like a credential ([`looks_like_credential`]) replaced by
/// `<redacted>` (quotes and punctuation around it kept): for text we did not write, such as a
/// library's error message.
pub fn mask_credentials(text: &str) -> String {
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

/// `value` quoted for an error line, or a placeholder when it looks like a credential.
pub fn quoted(value: &str) -> String {
    if looks_like_credential(value) {
        "(not shown: it looks like a key)".to_string()
    } else {
        format!("{value:?}")
    }
}

/// `text` with every occurrence of each of `secrets` (those of 4 characters or more) replaced by
/// `<redacted>`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| s.len() >= 4) {
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
            assert!(!quoted(key).contains(key), "{key}");
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
            assert_eq!(quoted(word), format!("{word:?}"));
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
