//! One OpenMetrics text file of many collection times, as `promtool tsdb create-blocks-from
//! openmetrics` reads it: each family once (`# HELP`, `# TYPE`, then all its samples), each
//! sample with its time in seconds, `# EOF` last.
//!
//! promtool 2.42 checks less than the format asks: it takes a family split in two, and drops
//! without a word a sample older than the one before it in its series, or a second value at the
//! same time (within one 2-hour block). So the order is made here: families by name, series by
//! labels, each series' times increasing, one value a time.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use jiff::Timestamp;

use crate::exposition::escape;
use crate::snapshot::{Family, Kind, Labels};

/// The samples of one file (a day of the backfill), merged from any number of collection times.
#[derive(Debug, Default)]
pub(crate) struct OpenMetricsDay {
    /// By name as collected (a counter's with `_total`).
    families: BTreeMap<Arc<str>, Merged>,
}

/// One family's samples of every time added.
#[derive(Debug)]
struct Merged {
    help: Arc<str>,
    kind: Kind,
    /// Series by their labels (sorted by name), each value by its time in milliseconds.
    series: BTreeMap<Labels, BTreeMap<i64, f64>>,
}

impl OpenMetricsDay {
    /// Adds the families collected at `at` (to the millisecond), `labels` added to every series
    /// (a target's, as `/metrics` adds them; none for the single company). A family's HELP and
    /// type are those first added; a series' value at a time already added replaces the older
    /// one; a family without samples is left out.
    pub(crate) fn add(&mut self, at: Timestamp, labels: &Labels, families: &[Family]) {
        let at = at.as_millisecond();
        for family in families.iter().filter(|f| !f.samples.is_empty()) {
            let merged = self.families.entry(family.name.clone()).or_insert_with(|| Merged {
                help: family.help.clone(),
                kind: family.kind,
                series: BTreeMap::new(),
            });
            for sample in &family.samples {
                let mut series: Labels = labels.iter().chain(&sample.labels).cloned().collect();
                series.sort_by_key(|(name, _)| *name);
                merged.series.entry(series).or_default().insert(at, sample.value);
            }
        }
    }

    /// Whether no sample was added (promtool makes no block of such a file).
    pub(crate) fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Writes the file (buffered here): families by name, series by labels, samples by time,
    /// `# EOF` last.
    pub(crate) fn write(&self, out: impl Write) -> io::Result<()> {
        let mut out = io::BufWriter::new(out);
        for (name, family) in &self.families {
            // OpenMetrics names a counter's family without the `_total` of its samples.
            let (base, kind, suffix) = match family.kind {
                Kind::Gauge => (&**name, "gauge", ""),
                Kind::Counter => (name.strip_suffix("_total").unwrap_or(name), "counter", "_total"),
            };
            writeln!(out, "# HELP {base} {}", escape(&family.help))?;
            writeln!(out, "# TYPE {base} {kind}")?;
            for (labels, values) in &family.series {
                let labels = braces(labels);
                for (at, value) in values {
                    writeln!(out, "{base}{suffix}{labels} {} {}", Value(*value), Seconds(*at))?;
                }
            }
        }
        out.write_all(b"# EOF\n")?;
        out.flush()
    }
}

/// `{k="v",…}`, values escaped; nothing for no labels.
fn braces(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", pairs.join(","))
}

/// A value as OpenMetrics spells it: `NaN`, `+Inf`, `-Inf`, else the shortest decimal that reads
/// back the same.
struct Value(f64);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{v:?}")
        }
    }
}

/// Milliseconds since the epoch as OpenMetrics' seconds: whole ones bare, else with three
/// decimals.
struct Seconds(i64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let ms = self.0.unsigned_abs();
        write!(f, "{sign}{}", ms / 1000)?;
        match ms % 1000 {
            0 => Ok(()),
            frac => write!(f, ".{frac:03}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::input::TempDir;

    fn family(name: &str, kind: Kind, help: &str, samples: &[(&[(&'static str, &str)], f64)]) -> Family {
        Family::of(name, kind, help, samples)
    }

    fn gauge(name: &str, samples: &[(&[(&'static str, &str)], f64)]) -> Family {
        family(name, Kind::Gauge, "help", samples)
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("a valid time")
    }

    fn text(day: &OpenMetricsDay) -> String {
        let mut out = Vec::new();
        day.write(&mut out).expect("writes to memory");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn backfill_families_are_contiguous_and_ordered_whatever_the_order_added() {
        let mut day = OpenMetricsDay::default();
        let none = Labels::new();
        let later = [
            gauge("sobot_b", &[(&[("window", "today")], 4.0)]),
            gauge("sobot_a", &[(&[("window", "yesterday")], 2.0), (&[("window", "today")], 3.0)]),
        ];
        let earlier = [gauge("sobot_a", &[(&[("window", "today")], 1.0)]), gauge("sobot_b", &[(&[], 5.0)])];
        day.add(at(200), &none, &later);
        day.add(at(100), &none, &earlier);
        assert_eq!(
            text(&day),
            "# HELP sobot_a help\n# TYPE sobot_a gauge\n\
             sobot_a{window=\"today\"} 1.0 100\n\
             sobot_a{window=\"today\"} 3.0 200\n\
             sobot_a{window=\"yesterday\"} 2.0 200\n\
             # HELP sobot_b help\n# TYPE sobot_b gauge\n\
             sobot_b 5.0 100\n\
             sobot_b{window=\"today\"} 4.0 200\n\
             # EOF\n"
        );
    }

    #[test]
    fn backfill_a_time_added_again_replaces_its_values_and_empty_families_are_left_out() {
        let mut day = OpenMetricsDay::default();
        let none = Labels::new();
        day.add(at(100), &none, &[gauge("sobot_a", &[(&[], 1.0)]), gauge("sobot_empty", &[])]);
        assert!(!day.is_empty());
        day.add(at(100), &none, &[gauge("sobot_a", &[(&[], 2.0)])]);
        assert_eq!(text(&day), "# HELP sobot_a help\n# TYPE sobot_a gauge\nsobot_a 2.0 100\n# EOF\n");

        let mut empty = OpenMetricsDay::default();
        empty.add(at(100), &none, &[gauge("sobot_empty", &[])]);
        assert!(empty.is_empty());
        assert_eq!(text(&empty), "# EOF\n");
    }

    #[test]
    fn backfill_target_labels_join_the_series_labels_sorted_by_name() {
        let mut day = OpenMetricsDay::default();
        let tenant: Labels = vec![("tenant", "t1".to_string())];
        day.add(at(100), &tenant, &[gauge("sobot_a", &[(&[("agent", "a1"), ("window", "today")], 1.0)])]);
        // The same series, its labels given in another order.
        let unsorted = gauge("sobot_a", &[(&[("window", "today"), ("agent", "a1")], 2.0)]);
        day.add(at(160), &tenant, &[unsorted]);
        let out = text(&day);
        assert!(out.contains("sobot_a{agent=\"a1\",tenant=\"t1\",window=\"today\"} 1.0 100\n"), "{out}");
        assert!(out.contains("sobot_a{agent=\"a1\",tenant=\"t1\",window=\"today\"} 2.0 160\n"), "{out}");
        assert_eq!(out.matches("sobot_a{").count(), 2, "{out}");
    }

    #[test]
    fn backfill_escapes_help_and_label_values() {
        let mut day = OpenMetricsDay::default();
        let help = "会话总数（智齿） \"quoted\" back\\slash\nsecond line";
        let f = family("sobot_a", Kind::Gauge, help, &[(&[("agent", "张三 \"A\"\\x\ny")], 1.0)]);
        day.add(at(100), &Labels::new(), &[f]);
        assert_eq!(
            text(&day),
            "# HELP sobot_a 会话总数（智齿） \\\"quoted\\\" back\\\\slash\\nsecond line\n\
             # TYPE sobot_a gauge\n\
             sobot_a{agent=\"张三 \\\"A\\\"\\\\x\\ny\"} 1.0 100\n\
             # EOF\n"
        );
    }

    #[test]
    fn backfill_counters_are_named_without_total_in_their_header() {
        let mut day = OpenMetricsDay::default();
        let c = family("sobot_exporter_parse_errors_total", Kind::Counter, "h", &[(&[("field", "f")], 3.0)]);
        day.add(at(100), &Labels::new(), &[c]);
        assert_eq!(
            text(&day),
            "# HELP sobot_exporter_parse_errors h\n\
             # TYPE sobot_exporter_parse_errors counter\n\
             sobot_exporter_parse_errors_total{field=\"f\"} 3.0 100\n\
             # EOF\n"
        );
    }

    #[test]
    fn backfill_values_and_times_are_spelled_as_openmetrics_has_them() {
        let spelled = |v: f64| Value(v).to_string();
        assert_eq!(spelled(f64::NAN), "NaN");
        assert_eq!(spelled(f64::INFINITY), "+Inf");
        assert_eq!(spelled(f64::NEG_INFINITY), "-Inf");
        assert_eq!(spelled(0.5349), "0.5349");
        assert_eq!(spelled(1e21), "1e21");
        assert_eq!(spelled(-0.0), "-0.0");
        assert_eq!(Seconds(1_767_196_800_000).to_string(), "1767196800");
        assert_eq!(Seconds(1_767_196_800_005).to_string(), "1767196800.005");
        assert_eq!(Seconds(-1_500).to_string(), "-1.500");
    }

    /// Runs promtool; its output if it succeeded.
    fn promtool(args: &[&str], dir: &Path) -> String {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool is installed (Debian package prometheus; tests/setup.sh installs it)");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {args:?}: {text}");
        text
    }

    /// A day of hourly collections (in reverse order, one hour collected twice), with Chinese
    /// HELP and awkward label values, imported by the real promtool and read back: every value at
    /// its millisecond.
    #[test]
    fn backfill_promtool_imports_a_day_and_reads_back_every_value() {
        let midnight: Timestamp = "2026-01-01T00:00:00+08:00".parse().expect("a time");
        let tenant: Labels = vec![("tenant", "t1".to_string())];
        let agent = "张三 \"A\"\\x\ny";
        let mut day = OpenMetricsDay::default();
        let mut expected = BTreeMap::new();
        for hour in (0..24_i32).rev() {
            let t = midnight + SignedDuration::from_hours(hour.into());
            let v = f64::from(hour);
            let sessions = family(
                "sobot_sessions",
                Kind::Gauge,
                "会话总数（智齿）: 当日. Cached, refreshed every 3600s.",
                &[(&[("agent", agent), ("window", "today")], v * 1.5)],
            );
            let errors = family("sobot_exporter_parse_errors_total", Kind::Counter, "解析错误", &[(&[], v)]);
            let rate = family(
                "sobot_rate",
                Kind::Gauge,
                "满意度",
                &[(&[], if hour == 3 { f64::NAN } else { v / 8.0 })],
            );
            day.add(t, &tenant, &[sessions, errors, rate, gauge("sobot_empty", &[])]);
            let ms = t.as_millisecond();
            let sessions =
                r#"{__name__="sobot_sessions", agent="张三 \"A\"\\x\ny", tenant="t1", window="today"}"#;
            expected.insert((sessions.to_string(), ms), v * 1.5);
            expected.insert((r#"{__name__="sobot_exporter_parse_errors_total", tenant="t1"}"#.into(), ms), v);
            expected.insert(
                (r#"{__name__="sobot_rate", tenant="t1"}"#.into(), ms),
                if hour == 3 { f64::NAN } else { v / 8.0 },
            );
        }
        // Hour 5 collected again: its new value is the one kept.
        let t5 = midnight + SignedDuration::from_hours(5);
        day.add(t5, &tenant, &[family("sobot_rate", Kind::Gauge, "满意度", &[(&[], 42.0)])]);
        expected.insert((r#"{__name__="sobot_rate", tenant="t1"}"#.into(), t5.as_millisecond()), 42.0);

        let dir = TempDir::new("backfill_promtool");
        let file = dir.0.join("2026-01-01.om");
        day.write(std::fs::File::create(&file).expect("create the file")).expect("write the file");
        promtool(&["tsdb", "create-blocks-from", "openmetrics", "2026-01-01.om", "blocks"], &dir.0);
        // A local day (UTC+8) is 12 whole 2-hour blocks.
        let blocks = std::fs::read_dir(dir.0.join("blocks"))
            .expect("the blocks")
            .filter_map(Result::ok)
            .filter(|e| e.path().join("meta.json").is_file())
            .count();
        assert_eq!(blocks, 12);
        // `tsdb dump` opens the folder as a database, which needs a WAL folder.
        std::fs::create_dir_all(dir.0.join("blocks/wal")).expect("wal folder");
        let dump = promtool(&["tsdb", "dump", "blocks"], &dir.0);

        // Lines of `{labels} value milliseconds`.
        let mut read = BTreeMap::new();
        for line in dump.lines() {
            let mut fields = line.rsplitn(3, ' ');
            let (Some(ms), Some(value), Some(series)) = (fields.next(), fields.next(), fields.next()) else {
                panic!("a dump line: {line:?}");
            };
            let ms: i64 = ms.parse().expect("milliseconds");
            let value: f64 = value.parse().expect("a value");
            assert!(read.insert((series.to_string(), ms), value).is_none(), "one value a time: {line}");
        }
        assert_eq!(read.len(), expected.len(), "{dump}");
        for (key, want) in &expected {
            let got = read.get(key).unwrap_or_else(|| panic!("{key:?} not in the dump:\n{dump}"));
            assert!(got == want || (got.is_nan() && want.is_nan()), "{key:?}: {got} != {want}");
        }
    }
}
