//! What Grafana does with a dashboard's variables before a panel's query reaches Prometheus, as its
//! documentation and source say, for tests that cannot run Grafana itself:
//!
//! - **Options of a query variable** (`metric_find`, `options`): `label_values(metric, label)` asks
//!   `/api/v1/label/<label>/values?match[]=metric` over the time range; `query_result(expr)` runs an
//!   instant query and turns each series into the text `name{a="1",b="2"} value timestamp_ms`; the
//!   variable's regex then filters them, its named groups `text` and `value` (or its first group)
//!   giving each option's label and value, an empty `value` capture counting as none; options are
//!   made unique by value and sorted by label. Sources: the Prometheus template variables page
//!   (<https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/>), "Filter
//!   variables with regex" (<https://grafana.com/docs/grafana/v9.0/variables/filter-variables-with-regex/>),
//!   and the code: grafana/grafana `packages/grafana-prometheus/src/metric_find_query.ts`
//!   (`labelValuesQuery`, `queryResultQuery`), grafana/scenes
//!   `packages/scenes/src/variables/variants/query/utils.ts` (`metricNamesToVariableValues`,
//!   `sortVariableValues`).
//! - **The selection a dashboard opens with** (`default_selection`): the saved `current` where it is
//!   among the options (by value, then by text); else "All" for a variable with "Include All";
//!   else the first option; with no options "All", an empty list (multi) or an empty value. Source:
//!   grafana/scenes `packages/scenes/src/variables/variants/MultiValueVariable.ts`
//!   (`getStateUpdateGivenNewOptions`), with `defaultToAll: Boolean(variable.includeAll)` from
//!   Grafana's dashboard-scene transform (`createSceneVariableFromVariableModel`).
//! - **Interpolation** (`interpolate`): `$name`, `${name}` and `[[name]]`; an unknown name is left as
//!   written. "All" with a custom all value is that value, never escaped ("Custom all value",
//!   <https://grafana.com/docs/grafana/v8.5/variables/variable-selection-options/>); "All" without
//!   one is every option. The Prometheus data source formats the rest (`interpolateQueryExpr` in
//!   `packages/grafana-prometheus/src/escaping.ts`, the classic behaviour, without the
//!   `prometheusSpecialCharsInLabelValues` toggle): a variable neither multi nor "Include All" has
//!   only `\` and `'` escaped (`prometheusRegularEscape`); otherwise each value has its backslashes
//!   doubled twice and each of `$^*{}[]+?.()|` preceded by two backslashes in the query text
//!   (`prometheusSpecialRegexEscape`), and several values become `(a|b)` ("Formatting multi-value
//!   variables", <https://grafana.com/docs/grafana/v8.5/variables/formatting-multi-value-variables/>).
//! - **Built-in intervals**: `$__range` is the dashboard's time range in seconds, `$__interval` the
//!   range over the panel's data points, and `$__rate_interval` is `max($__interval + scrape
//!   interval, 4 × scrape interval)` with the data source's default scrape interval of 15 s
//!   (grafana/grafana pull request 77234, "Prometheus: Fix $__rate_interval calculation").

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use regex_lite::Regex;
use serde_json::Value;

/// Grafana's value of the "All" option.
pub(crate) const ALL: &str = "$__all";

/// One option of a variable: its label and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opt {
    pub text: String,
    pub value: String,
}

impl Opt {
    pub(crate) fn new(text: &str, value: &str) -> Opt {
        Opt { text: text.to_string(), value: value.to_string() }
    }
}

/// What a variable holds once the dashboard has loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// "All": the custom all value if the variable has one, else every option.
    All,
    /// One or several options' values (an empty one when there is nothing to choose).
    Values(Vec<String>),
}

/// A variable as its selection is interpolated: what it holds, and what the data source's
/// formatting depends on.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub selection: Selection,
    pub options: Vec<Opt>,
    pub multi: bool,
    pub include_all: bool,
    pub all_value: Option<String>,
}

/// The JSON's `multi`, `includeAll` and `allValue` of a variable.
fn flags(var: &Value) -> (bool, bool, Option<String>) {
    let all_value = var["allValue"].as_str().filter(|v| !v.is_empty()).map(str::to_string);
    (var["multi"].as_bool().unwrap_or(false), var["includeAll"].as_bool().unwrap_or(false), all_value)
}

/// The saved `current` of a variable's JSON: its value(s) and text(s), if any.
fn saved(var: &Value) -> Option<(Vec<String>, Vec<String>)> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    let current = &var["current"];
    let values = list(&current["value"]);
    (!values.is_empty()).then(|| (values, list(&current["text"])))
}

/// The selection a dashboard opens with, given the variable's JSON and its options
/// (`MultiValueVariable.getStateUpdateGivenNewOptions`).
pub(crate) fn default_selection(var: &Value, options: &[Opt]) -> Selection {
    let (multi, include_all, _) = flags(var);
    let saved = saved(var);
    if options.is_empty() {
        return if include_all { Selection::All } else { Selection::Values(vec![String::new()]) };
    }
    let first = || Selection::Values(vec![options[0].value.clone()]);
    let Some((values, texts)) = saved else {
        return if include_all { Selection::All } else { first() };
    };
    if values.first().is_some_and(|v| v == ALL) {
        return if include_all { Selection::All } else { first() };
    }
    if multi {
        let valid: Vec<String> =
            values.iter().filter(|v| options.iter().any(|o| &o.value == *v)).cloned().collect();
        return if !valid.is_empty() {
            Selection::Values(valid)
        } else if include_all {
            Selection::All
        } else {
            first()
        };
    }
    let by_value = options.iter().find(|o| Some(&o.value) == values.first());
    let by_text = options.iter().rev().find(|o| Some(&o.text) == texts.first());
    match by_value.or(by_text) {
        Some(o) => Selection::Values(vec![o.value.clone()]),
        None if include_all => Selection::All,
        None => first(),
    }
}

/// `prometheusRegularEscape` (classic): `\` doubled, `'` as `\\'`.
pub(crate) fn regular_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\\\'")
}

/// `prometheusSpecialRegexEscape` (classic): each `\` as four, each of `$^*{}[]+?.()|` after two
/// backslashes, so that the PromQL string holds a regex matching the value literally.
pub(crate) fn special_regex_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.replace('\\', "\\\\\\\\").chars() {
        if "$^*{}[]+?.()|".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

/// `interpolateQueryExpr`: a variable's values as the Prometheus data source writes them.
pub(crate) fn format_values(values: &[String], multi: bool, include_all: bool) -> String {
    if !multi && !include_all {
        return values.iter().map(|v| regular_escape(v)).collect::<Vec<_>>().join(",");
    }
    let escaped: Vec<String> = values.iter().map(|v| special_regex_escape(v)).collect();
    match escaped.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join("|")),
    }
}

/// The text a resolved variable stands for in a query.
pub(crate) fn value_of(var: &Resolved) -> String {
    match &var.selection {
        Selection::All => match &var.all_value {
            Some(custom) => custom.clone(),
            None => {
                let every: Vec<String> = var.options.iter().map(|o| o.value.clone()).collect();
                format_values(&every, var.multi, var.include_all)
            }
        },
        Selection::Values(values) => format_values(values, var.multi, var.include_all),
    }
}

/// `expr` with every `$name`, `${name}` and `[[name]]` Grafana knows replaced (the template
/// service's pattern); other names, `$1` in a replacement say, stay as written.
pub(crate) fn interpolate(expr: &str, vars: &BTreeMap<String, String>) -> String {
    let pattern = Regex::new(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")
        .expect("the template pattern");
    let mut out = String::new();
    let mut last = 0;
    for caps in pattern.captures_iter(expr) {
        let whole = caps.get(0).expect("a match");
        out.push_str(&expr[last..whole.start()]);
        let name = caps.get(1).or(caps.get(2)).or(caps.get(4)).map_or("", |m| m.as_str());
        let format = caps.get(3).or(caps.get(6));
        assert!(format.is_none(), "a format ({}) this emulation does not know", whole.as_str());
        match vars.get(name) {
            Some(value) => out.push_str(value),
            None => out.push_str(whole.as_str()),
        }
        last = whole.end();
    }
    out.push_str(&expr[last..]);
    out
}

/// The built-in variables for a dashboard whose time range is its last `range`, each panel
/// drawing `points` data points: `$__range`, `$__range_s`, `$__interval` and `$__rate_interval`.
pub(crate) fn builtins(range: Duration, points: u64) -> BTreeMap<String, String> {
    let scrape = 15;
    let interval = (range.as_secs() / points.max(1)).max(1);
    let rate = (interval + scrape).max(4 * scrape);
    let range = range.as_secs();
    [
        ("__range", format!("{range}s")),
        ("__range_s", range.to_string()),
        ("__interval", format!("{interval}s")),
        ("__rate_interval", format!("{rate}s")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A dashboard's time range from its `time.from` (`now-6h`, `now-24h`, `now-7d`).
pub(crate) fn time_range(dashboard: &Value) -> Duration {
    let from = dashboard["time"]["from"].as_str().unwrap_or("now-6h");
    let span = from.strip_prefix("now-").unwrap_or("6h");
    let (number, unit) = span.split_at(span.len() - 1);
    let n: u64 = number.parse().unwrap_or(6);
    Duration::from_secs(
        n * match unit {
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => 1,
        },
    )
}

/// Sorts options as Grafana's `sort` setting says: 1 alphabetical (lodash `sortBy` on the label,
/// which compares UTF-16 code units), 2 the same reversed; 0 as queried.
pub(crate) fn sort_options(mut options: Vec<Opt>, sort: u64) -> Vec<Opt> {
    let key = |o: &Opt| o.text.encode_utf16().collect::<Vec<u16>>();
    match sort {
        0 => {}
        1 => options.sort_by_key(key),
        2 => {
            options.sort_by_key(key);
            options.reverse();
        }
        other => panic!("variable sort {other} is not emulated"),
    }
    options
}

/// A JavaScript regex literal `/pattern/flags` as Grafana's `stringToJsRegex` reads it.
fn js_regex(literal: &str) -> (Regex, bool) {
    let (pattern, flags) = literal
        .strip_prefix('/')
        .and_then(|rest| rest.rsplit_once('/'))
        .unwrap_or_else(|| panic!("not a /regex/: {literal}"));
    let case = if flags.contains('i') { "(?i)" } else { "" };
    let regex = Regex::new(&format!("{case}{pattern}")).unwrap_or_else(|e| panic!("{literal}: {e}"));
    (regex, flags.contains('g'))
}

/// The options of the texts a variable query found, through the variable's `regex` (empty for
/// none) and `sort` (`metricNamesToVariableValues`).
pub(crate) fn options(texts: &[String], regex: &str, sort: u64) -> Vec<Opt> {
    let regex = (!regex.is_empty()).then(|| js_regex(regex));
    let mut options: Vec<Opt> = Vec::new();
    for item in texts {
        let Some((regex, global)) = &regex else {
            options.push(Opt::new(item, item));
            continue;
        };
        let matches: Vec<regex_lite::Captures<'_>> = if *global {
            regex.captures_iter(item).collect()
        } else {
            regex.captures(item).into_iter().collect()
        };
        if matches.is_empty() {
            continue;
        }
        // A group counts where it captured something non-empty (JavaScript's truthiness).
        let group = |name: &str| {
            matches.iter().find_map(|m| m.name(name).map(|g| g.as_str()).filter(|g| !g.is_empty()))
        };
        let (value, text) = (group("value"), group("text"));
        if value.is_some() || text.is_some() {
            let (value, text) = (value.or(text).unwrap_or_default(), text.or(value).unwrap_or_default());
            options.push(Opt::new(text, value));
        } else if matches.iter().any(|m| m.len() > 1) {
            // The first group of each match where there are several, else of the one.
            for m in
                matches.iter().filter(|m| m.len() > 1).take(if matches.len() > 1 { usize::MAX } else { 1 })
            {
                let g = m.get(1).map_or("", |g| g.as_str());
                options.push(Opt::new(g, g));
            }
        } else {
            options.push(Opt::new(item, item));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    options.retain(|o| seen.insert(o.value.clone()));
    sort_options(options, sort)
}

/// The texts `query_result(...)` makes of an instant query's answer (`queryResultQuery`).
pub(crate) fn query_result_texts(data: &Value) -> Vec<String> {
    match data["resultType"].as_str() {
        Some("scalar" | "string") => vec![data["result"][1].as_str().unwrap_or("").to_string()],
        Some("vector") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|series| {
                let metric = series["metric"].as_object().cloned().unwrap_or_default();
                let name = metric.get("__name__").and_then(Value::as_str).unwrap_or("");
                let labels: Vec<String> = metric
                    .iter()
                    .filter(|(k, _)| k.as_str() != "__name__")
                    .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or("")))
                    .collect();
                let value = series["value"][1].as_str().unwrap_or("");
                let ms = series["value"][0].as_f64().unwrap_or(0.0) * 1000.0;
                format!("{name}{{{}}} {value} {ms}", labels.join(","))
            })
            .collect(),
        other => panic!("query_result of a {other:?}"),
    }
}

/// The texts a variable's query finds in the Prometheus at `url`, over the last `range`
/// (`PrometheusMetricFindQuery.process`, for the two forms the dashboards use).
pub(crate) async fn metric_find(url: &str, query: &str, range: Duration) -> Result<Vec<String>, String> {
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (start, end) = (now.saturating_sub(range).as_secs().to_string(), now.as_secs().to_string());
    let label_values =
        Regex::new(r"^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)\s*$").expect("regex");
    let answer = |r: reqwest::Response| async move {
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        match body["status"].as_str() {
            Some("success") => Ok(body["data"].clone()),
            _ => Err(format!("{}: {}", body["errorType"], body["error"])),
        }
    };
    if let Some(caps) = label_values.captures(query) {
        let label = &caps[2];
        let mut params = vec![("start", start), ("end", end)];
        if let Some(metric) = caps.get(1) {
            params.push(("match[]", metric.as_str().to_string()));
        }
        let r = client
            .get(format!("{url}/api/v1/label/{label}/values"))
            .query(&params)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let data = answer(r).await?;
        return Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect());
    }
    if let Some(expr) = query.strip_prefix("query_result(").and_then(|q| q.trim_end().strip_suffix(')')) {
        let r = client
            .get(format!("{url}/api/v1/query"))
            .query(&[("query", expr), ("time", &end)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        return Ok(query_result_texts(&answer(r).await?));
    }
    Err(format!("a variable query this emulation does not know: {query}"))
}

/// Every variable of `dashboard` as it opens against the Prometheus at `url`, in order (a
/// variable's query sees the ones before it), with the built-ins: name → interpolated text.
/// Also returns each variable's options and selection, for messages.
pub(crate) async fn resolve(
    dashboard: &Value,
    url: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, Resolved>) {
    let range = time_range(dashboard);
    let mut values = builtins(range, 1000);
    let mut resolved = BTreeMap::new();
    for var in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap_or("").to_string();
        let (multi, include_all, all_value) = flags(var);
        let options = match var["type"].as_str() {
            Some("datasource") => continue,
            Some("custom") => {
                let query = var["query"].as_str().unwrap_or("");
                query.split(',').map(|v| Opt::new(v.trim(), v.trim())).collect()
            }
            Some("query") => {
                let query = var["query"]["query"].as_str().or(var["query"].as_str()).unwrap_or("");
                let texts = metric_find(url, &interpolate(query, &values), range)
                    .await
                    .unwrap_or_else(|e| panic!("variable {name}: {e}"));
                options(&texts, var["regex"].as_str().unwrap_or(""), var["sort"].as_u64().unwrap_or(0))
            }
            other => panic!("variable {name}: type {other:?} is not emulated"),
        };
        let selection = default_selection(var, &options);
        let r = Resolved { selection, options, multi, include_all, all_value };
        values.insert(name.clone(), value_of(&r));
        resolved.insert(name, r);
    }
    (values, resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(pairs: &[(&str, &str)]) -> Vec<Opt> {
        pairs.iter().map(|(t, v)| Opt::new(t, v)).collect()
    }

    #[test]
    fn with_nothing_saved_and_no_all_the_first_option_is_selected() {
        let var = json!({"name": "tenant", "multi": false, "includeAll": false, "current": {}});
        let options = sort_options(opts(&[("b", "2"), ("a", "1")]), 1);
        assert_eq!(default_selection(&var, &options), Selection::Values(vec!["1".into()]));
        // Nothing to choose from: an empty value.
        assert_eq!(default_selection(&var, &[]), Selection::Values(vec![String::new()]));
    }

    #[test]
    fn a_saved_value_stays_where_it_is_an_option_else_the_first_or_all() {
        let single =
            json!({"multi": false, "includeAll": false, "current": {"text": "(company)", "value": "^$"}});
        let options = opts(&[("A tenant", "t1"), ("(company)", "^$")]);
        assert_eq!(default_selection(&single, &options), Selection::Values(vec!["^$".into()]));
        let options = opts(&[("A tenant", "t1"), ("B tenant", "t2")]);
        assert_eq!(default_selection(&single, &options), Selection::Values(vec!["t1".into()]));
        // Found by its text when the value changed.
        let options = opts(&[("x", "t0"), ("(company)", "other")]);
        assert_eq!(default_selection(&single, &options), Selection::Values(vec!["other".into()]));
        // "Include All" with nothing saved, or with the saved value gone: All.
        let all = json!({"multi": true, "includeAll": true, "current": {}});
        assert_eq!(default_selection(&all, &options), Selection::All);
        let gone = json!({"multi": true, "includeAll": true, "current": {"value": ["zz"], "text": ["zz"]}});
        assert_eq!(default_selection(&gone, &options), Selection::All);
        let saved_all = json!({"multi": true, "includeAll": true, "current": {"value": ["$__all"]}});
        assert_eq!(default_selection(&saved_all, &[]), Selection::All);
        let kept = json!({"multi": true, "includeAll": true, "current": {"value": ["t0", "zz"]}});
        assert_eq!(default_selection(&kept, &options), Selection::Values(vec!["t0".into()]));
    }

    #[test]
    fn all_is_the_custom_all_value_as_given_or_every_option_escaped() {
        let options = opts(&[("a", "a.b"), ("c", "c")]);
        let custom = Resolved {
            selection: Selection::All,
            options: options.clone(),
            multi: true,
            include_all: true,
            all_value: Some(".*".into()),
        };
        assert_eq!(value_of(&custom), ".*", "never escaped");
        let every = Resolved { all_value: None, ..custom };
        assert_eq!(value_of(&every), r"(a\\.b|c)");
    }

    #[test]
    fn multi_values_are_regex_escaped_with_two_backslashes_in_the_query_text() {
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(format_values(&values(&["10.0.0.1:9877"]), true, true), r"10\\.0\\.0\\.1:9877");
        assert_eq!(format_values(&values(&["a.b", "c|d"]), true, false), r"(a\\.b|c\\|d)");
        assert_eq!(special_regex_escape(r"x\y"), r"x\\\\y");
        assert_eq!(special_regex_escape("$^*{}[]+?.()|"), r"\\$\\^\\*\\{\\}\\[\\]\\+\\?\\.\\(\\)\\|");
        // A single-value variable: backslashes and single quotes only, so a regex passes as written.
        assert_eq!(format_values(&values(&["^$"]), false, false), "^$");
        assert_eq!(format_values(&values(&[r"a\b'c"]), false, false), r"a\\b\\'c");
    }

    #[test]
    fn variables_are_replaced_in_every_syntax_and_unknown_names_stay() {
        let vars: BTreeMap<String, String> = [("job", ".*"), ("tenant", "^$")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            interpolate(r#"x{job=~"$job", tenant=~"${tenant}", a="[[job]]"}"#, &vars),
            r#"x{job=~".*", tenant=~"^$", a=".*"}"#
        );
        assert_eq!(
            interpolate(r#"label_replace(x, "name", "$1", "agent", "(.+)")"#, &vars),
            r#"label_replace(x, "name", "$1", "agent", "(.+)")"#
        );
        let b = builtins(Duration::from_secs(86_400), 1000);
        assert_eq!(interpolate("rate(x[$__rate_interval]) $__range", &b), "rate(x[101s]) 86400s");
        assert_eq!(builtins(Duration::from_secs(3600), 1000)["__rate_interval"], "60s");
    }

    #[test]
    fn query_result_is_read_as_the_documents_example_and_the_regex_extracts_the_options() {
        // The documentation's example ("Filter and modify - Prometheus Example").
        let data = json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "demo.robustperception.io:9090", "job": "prometheus"}, "value": [1521630638, "1"]},
            {"metric": {"__name__": "up", "instance": "demo.robustperception.io:9093", "job": "alertmanager"}, "value": [1521630638, "1"]},
        ]});
        let texts = query_result_texts(&data);
        assert_eq!(
            texts[0],
            r#"up{instance="demo.robustperception.io:9090",job="prometheus"} 1 1521630638000"#
        );
        let found = options(&texts, r#"/.*instance="([^"]*).*/"#, 0);
        assert_eq!(
            found,
            opts(&[
                ("demo.robustperception.io:9090", "demo.robustperception.io:9090"),
                ("demo.robustperception.io:9093", "demo.robustperception.io:9093")
            ])
        );
        // Named groups: text and value; sorted by text; unique by value.
        let texts: Vec<String> = [
            r#"{name="Zeta",tenant="z"} 1 1"#,
            r#"{name="(company)",tenant="^$"} 1 1"#,
            r#"{name="Alpha",tenant="a"} 1 1"#,
            r#"{name="Alpha again",tenant="a"} 1 1"#,
        ]
        .map(String::from)
        .to_vec();
        let found = options(&texts, r#"/name="(?<text>[^"]*)".*tenant="(?<value>[^"]*)"/"#, 1);
        assert_eq!(found, opts(&[("(company)", "^$"), ("Alpha", "a"), ("Zeta", "z")]));
        // An empty value capture counts as none: the option's value is its text.
        let found = options(
            &[r#"{name="Co",tenant=""} 1 1"#.to_string()],
            r#"/name="(?<text>[^"]*)".*tenant="(?<value>[^"]*)"/"#,
            1,
        );
        assert_eq!(found, opts(&[("Co", "Co")]));
        // No match, no option.
        assert!(options(&["x".to_string()], "/y/", 0).is_empty());
    }

    #[test]
    fn sorting_compares_utf16_code_units_like_javascript() {
        // U+FF21 (one unit) sorts after U+1F600 (a surrogate pair, 0xD83D…) in JavaScript.
        let sorted = sort_options(opts(&[("\u{FF21}", "1"), ("\u{1F600}", "2"), ("(", "3")]), 1);
        assert_eq!(sorted.iter().map(|o| o.value.as_str()).collect::<Vec<_>>(), ["3", "2", "1"]);
    }
}
