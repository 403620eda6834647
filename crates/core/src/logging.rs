//! Logging: `--log.level` and `--log.format`: `logfmt` (the Prometheus default), `text` (tracing's
//! own lines) or `json`.
//!
//! [`Logfmt`] writes one line per event, `ts=… level=… msg=… key=value…`, as go-logfmt does: a
//! value is quoted when it is empty or holds a space, a control character, `=` or `"`, and inside
//! quotes `\`, `"`, newlines, tabs and other control characters are escaped, so every event is one
//! line that a logfmt parser reads back as it was.

use std::fmt::{self, Write};

use clap::ValueEnum;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `ts=… level=… msg=… key=value`, one line per event (the Prometheus default).
    Logfmt,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Start-up, recoveries, warnings.
    Info,
    /// Every upstream call and every value that did not parse.
    Debug,
}

impl LogLevel {
    /// The tracing directive for this level.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Sets the process's logger: our own logs at `level`; dependencies only at `warn`, so that no
/// library's debug output (request headers) can reach the log. To standard error.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = level.as_str();
    // The binary's crates: the exporter's library and the demo's simulator.
    let filter = EnvFilter::new(format!(
        "warn,sobot_exporter={level},sobot_exporter_core={level},sobot_simulator={level}"
    ));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Logfmt => builder.event_format(Logfmt).init(),
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// The logfmt event format: `ts` (UTC, milliseconds), `level`, `msg`, then the event's fields in
/// the order they were given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = jiff::Timestamp::now();
        let mut line = String::with_capacity(128);
        pair(&mut line, "ts", &now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        line.push(' ');
        pair(&mut line, "level", &event.metadata().level().as_str().to_ascii_lowercase());
        line.push(' ');
        pair(&mut line, "msg", &fields.message);
        for (key, value) in &fields.rest {
            line.push(' ');
            pair(&mut line, key, value);
        }
        line.push('\n');
        writer.write_str(&line)
    }
}

/// The message and the other fields of one event, as text.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            // The `log` crate's bridge fields: not ours to print.
            name if name.starts_with("log.") => {}
            name => self.rest.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value.to_string());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, value.to_string());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields and the message come here too, printing as Display.
        self.add(field, format!("{value:?}"));
    }
}

/// Appends `key=value`, the key made safe (a character logfmt keys cannot hold becomes `_`), the
/// value quoted and escaped if it must be.
fn pair(out: &mut String, key: &str, value: &str) {
    if key.is_empty() {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if c <= ' ' || c == '=' || c == '"' || c.is_control() { '_' } else { c }));
    out.push('=');
    let bare =
        !value.is_empty() && !value.chars().any(|c| c <= ' ' || c == '=' || c == '"' || c.is_control());
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> String {
        let mut out = String::new();
        pair(&mut out, key, value);
        out
    }

    #[test]
    fn values_are_quoted_only_when_they_must_be() {
        assert_eq!(one("a", "plain"), "a=plain");
        assert_eq!(one("url", "http://h/p?x"), "url=http://h/p?x");
        assert_eq!(one("a", ""), "a=\"\"");
        assert_eq!(one("a", "two words"), "a=\"two words\"");
        assert_eq!(one("a", "k=v"), "a=\"k=v\"");
        assert_eq!(one("a", "say \"hi\"\\"), "a=\"say \\\"hi\\\"\\\\\"");
        assert_eq!(one("a", "l1\nl2\tx\r\u{7}"), "a=\"l1\\nl2\\tx\\r\\u0007\"");
        assert_eq!(one("a", "智齿"), "a=智齿");
        assert_eq!(one("bad key=", "1"), "bad_key_=1");
    }
}
