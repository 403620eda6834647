//! The landing page (`/`): the links, and what each target's collectors did last (last success,
//! last error with its hint, series, state), as blackbox_exporter lists its recent probes. A
//! platform's tenants are summed up (served, failing, waiting) with the failing ones listed, at
//! most [`FAILING_SHOWN`] of them. Plain HTML, everything escaped, no script.

use std::fmt::Write;
use std::time::Duration;

use jiff::Timestamp;

use crate::targets::{CollectorStatus, Status, TargetKind, TargetView};
use crate::web::Route;

/// Failing tenants listed on the page at most; the rest are counted.
pub(crate) const FAILING_SHOWN: usize = 50;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}\
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eee}td.n{text-align:right}\
tr.failing td{background:#fde8e8}tr.pending td{color:#666}\
.hint{color:#555;font-size:.9em}.good{color:#176f2c}.bad{color:#a11}";

/// The page, as of `now`.
pub(crate) fn render(telemetry_path: &str, status: &Status, now: Timestamp) -> String {
    let targets = status.targets();
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sobot Exporter</title>\
         <style>{STYLE}</style></head>\n<body>\n<h1>Sobot Exporter</h1>\n<p>Prometheus exporter for Sobot \
         (智齿客服) customer-service statistics and the Laaffic call center. {}</p>\n",
        escape(crate::build_info::VERSION_LINE)
    );
    let (class, readiness) = if status.ready() {
        ("good", "ready")
    } else {
        ("bad", "not ready: the first collection has not completed")
    };
    let _ = write!(
        out,
        "<p>Status: <span class=\"{class}\" id=\"ready\">{readiness}</span>; up {}.</p>\n<ul>",
        human(status.uptime()),
    );
    for route in Route::ALL {
        let Some(text) = route.link() else { continue };
        let path = if route == Route::Metrics { telemetry_path } else { route.path() };
        let _ = write!(out, "<li><a href=\"{}\">{text}</a></li>", escape(path));
    }
    out.push_str("</ul>\n");
    for target in targets.iter().filter(|t| t.kind != TargetKind::Tenant) {
        let title = match target.kind {
            TargetKind::Platform => "Platform",
            TargetKind::Company | TargetKind::Tenant => "Company",
        };
        let _ = writeln!(out, "<h2>{title} <code>{}</code></h2>", escape(&target.id));
        collectors(&mut out, &target.collectors, now);
    }
    let tenants: Vec<&TargetView> = targets.iter().filter(|t| t.kind == TargetKind::Tenant).collect();
    if !tenants.is_empty() || targets.iter().any(|t| t.kind == TargetKind::Platform) {
        tenant_summary(&mut out, &tenants, now);
    }
    if targets.is_empty() {
        out.push_str("<p>No target is running.</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn collectors(out: &mut String, collectors: &[CollectorStatus], now: Timestamp) {
    out.push_str(
        "<table class=\"collectors\"><tr><th>Collector</th><th>State</th><th>Last success</th>\
         <th>Last error</th><th>Series</th><th>Interval</th></tr>\n",
    );
    for c in collectors {
        let state = c.state();
        let state_text = match c.failures {
            0 => state.to_string(),
            1 => "failing".to_string(),
            n => format!("failing ({n} cycles in a row)"),
        };
        let _ = writeln!(
            out,
            "<tr class=\"{state}\"><td><code>{}</code></td><td>{state_text}</td><td>{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&c.name),
            c.last_success.map_or_else(|| "never".to_string(), |at| when(at, now)),
            last_error(c),
            c.series,
            human(c.interval),
        );
    }
    out.push_str("</table>\n");
}

fn last_error(c: &CollectorStatus) -> String {
    let Some(e) = &c.last_error else {
        return "—".to_string();
    };
    let mut cell = format!("{}: {}", when_short(e.at), escape(&e.error));
    if !e.hint.is_empty() {
        let _ = write!(cell, "<br><span class=\"hint\">{}</span>", escape(&e.hint));
    }
    cell
}

fn tenant_summary(out: &mut String, tenants: &[&TargetView], now: Timestamp) {
    let failing: Vec<&&TargetView> = tenants.iter().filter(|t| t.failing()).collect();
    let waiting = tenants.iter().filter(|t| !t.started() && !t.failing()).count();
    let series: usize = tenants.iter().flat_map(|t| &t.collectors).map(|c| c.series).sum();
    let _ = write!(
        out,
        "<h2>Tenants</h2>\n<p>Served: <span id=\"tenants-served\">{}</span>; failing: \
         <span id=\"tenants-failing\">{}</span>; waiting for their first cycle: {waiting}; series: {series}. \
         Each tenant's own series: <code>/probe?target=&lt;companyId&gt;</code>.</p>\n",
        tenants.len(),
        failing.len(),
    );
    if failing.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"tenants\"><tr><th>Tenant</th><th>Name</th><th>Failing collectors</th>\
         <th>Last error</th><th>Last success</th></tr>\n",
    );
    for t in failing.iter().take(FAILING_SHOWN) {
        let bad: Vec<&CollectorStatus> = t.collectors.iter().filter(|c| c.failures > 0).collect();
        let names: Vec<String> = bad.iter().map(|c| format!("<code>{}</code>", escape(&c.name))).collect();
        let latest =
            bad.iter().filter(|c| c.last_error.is_some()).max_by_key(|c| c.last_error.as_ref().map(|e| e.at));
        let success = t.collectors.iter().filter_map(|c| c.last_success).max();
        let _ = writeln!(
            out,
            "<tr class=\"failing\"><td><a href=\"/probe?target={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            escape(&form_urlencoded::byte_serialize(t.id.as_bytes()).collect::<String>()),
            escape(&t.id),
            escape(&t.name),
            names.join(", "),
            latest.map_or_else(|| "—".to_string(), |c| last_error(c)),
            success.map_or_else(|| "never".to_string(), |at| when(at, now)),
        );
    }
    out.push_str("</table>\n");
    if failing.len() > FAILING_SHOWN {
        let _ = writeln!(
            out,
            "<p>… and {} more failing tenants (<code>sobot_exporter_collector_success == 0</code> on their \
             <code>/probe</code>).</p>",
            failing.len() - FAILING_SHOWN
        );
    }
}

/// `2024-05-01T12:00:00Z (35s ago)`.
fn when(at: Timestamp, now: Timestamp) -> String {
    let ago = Duration::try_from(now.duration_since(at)).unwrap_or_default();
    format!("{} ({} ago)", when_short(at), human(ago))
}

fn when_short(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second()).map_or_else(|_| at.to_string(), |t| t.to_string())
}

/// `45s`, `3m 20s`, `2h 5m`, `3d 4h`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => pair(s / 60, "m", s % 60, "s"),
        3600..86_400 => pair(s / 3600, "h", s % 3600 / 60, "m"),
        _ => pair(s / 86_400, "d", s % 86_400 / 3600, "h"),
    }
}

/// `3m 20s`, or `3m` without the smaller unit when it is 0.
fn pair(big: u64, big_unit: &str, small: u64, small_unit: &str) -> String {
    if small == 0 { format!("{big}{big_unit}") } else { format!("{big}{big_unit} {small}{small_unit}") }
}

/// Text as HTML escapes it, in content and in quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_durations() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(human(Duration::from_secs(59)), "59s");
        assert_eq!(human(Duration::from_secs(200)), "3m 20s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(90_000)), "1d 1h");
    }

    #[test]
    fn a_platform_is_summed_up_and_its_failing_tenants_listed_up_to_the_cap() {
        let status = Status::default();
        let platform = crate::targets::TargetStatus::new("platform", "", TargetKind::Platform);
        platform.set_collectors([("platform_discovery".to_string(), Duration::from_secs(60))]);
        let mut entries = vec![platform];
        for i in 0..1000 {
            let t = crate::targets::TargetStatus::new(
                &format!("t{i:04}"),
                &format!("Shop <{i}>"),
                TargetKind::Tenant,
            );
            t.set_collectors([("robot_session".to_string(), Duration::from_secs(60))]);
            let result = if i % 10 == 0 {
                Err(("<script>alert(1)</script>".to_string(), "check the key".to_string()))
            } else {
                Ok(7)
            };
            t.cycle_done(0, result);
            entries.push(t);
        }
        status.register(entries);
        let page = render("/metrics", &status, Timestamp::now());
        assert!(page.contains("Served: <span id=\"tenants-served\">1000</span>; failing: <span id=\"tenants-failing\">100</span>"), "{page}");
        assert_eq!(page.matches("<tr class=\"failing\">").count(), FAILING_SHOWN);
        assert!(page.contains("and 50 more failing tenants"));
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;alert(1)"));
        assert!(
            page.contains("Shop &lt;0&gt;") && !page.contains("t0001"),
            "only failing tenants are listed"
        );
        assert!(page.contains("series: 6300"));
    }
}
