//! The Grafana dashboard model the dashboards are written in, and the JSON Grafana imports
//! (schema 39, Grafana 10 and later).
//!
//! Only what the dashboards use. A dashboard is its variables and rows; a row is its panels,
//! laid out left to right in the order given and wrapped at Grafana's 24 columns, so a panel is
//! placed by its size alone. Queries write the dashboard's scope (the `job`, `instance` and, with
//! one tenant at a time, `tenant` matchers) as `..` at the end of a selector:
//! `sobot_human_consult_sessions{window="$window", ..}` or `sobot_exporter_collector_success{..}`.

use serde_json::{Map, Value, json};

use super::rules::Limit;

/// How a dashboard picks tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tenants {
    /// No tenant variable.
    None,
    /// One tenant at a time, or the company's series (those without a tenant label), listed first
    /// as `(company)` and selected by default where there are any: part of the scope.
    One,
    /// Several tenants ("All" by default): queries name `tenant=~"$tenant"` themselves.
    Many,
}

/// A dashboard.
pub(super) struct Dashboard {
    uid: &'static str,
    title: &'static str,
    description: String,
    tags: &'static [&'static str],
    from: &'static str,
    tenants: Tenants,
    window: bool,
    group: Option<&'static str>,
    agent: bool,
    top: bool,
    rows: Vec<(String, Vec<Panel>)>,
}

/// The tenant variable's value for the series without a tenant label: `tenant=~"^$"` matches only
/// those. Grafana passes a single-value variable's value to Prometheus with only `\` and `'`
/// escaped (its Prometheus data source's `interpolateQueryExpr`), and takes a `query_result`
/// option's value from a non-empty capture only, so the empty label value itself cannot be one.
pub(super) const NO_TENANT: &str = "^$";

/// How the tenant variable lists the company: first (`(` sorts before letters and digits), and
/// only where a company collector has series (the platform's own collectors, `platform_*`, have
/// no tenant label either).
const COMPANY: &str = "(company)";

impl Dashboard {
    pub(super) fn new(uid: &'static str, title: &'static str, description: &str) -> Self {
        Dashboard {
            uid,
            title,
            description: description.to_string(),
            tags: &["sobot"],
            from: "now-24h",
            tenants: Tenants::None,
            window: false,
            group: None,
            agent: false,
            top: false,
            rows: Vec::new(),
        }
    }

    pub(super) fn tags(mut self, tags: &'static [&'static str]) -> Self {
        self.tags = tags;
        self
    }

    /// The default time range, from this (`now-6h`) to now.
    pub(super) fn from(mut self, from: &'static str) -> Self {
        self.from = from;
        self
    }

    pub(super) fn tenants(mut self, tenants: Tenants) -> Self {
        self.tenants = tenants;
        self
    }

    /// The `window` variable (today or yesterday).
    pub(super) fn window(mut self) -> Self {
        self.window = true;
        self
    }

    /// The `group` variable, listing the `group` label of `metric` within the scope.
    pub(super) fn group(mut self, metric: &'static str) -> Self {
        self.group = Some(metric);
        self
    }

    /// The `agent` variable: agents by name from `sobot_agent_info`.
    pub(super) fn agent(mut self) -> Self {
        self.agent = true;
        self
    }

    /// The `top` variable: how many agents, seats or tenants per-item panels show.
    pub(super) fn top(mut self) -> Self {
        self.top = true;
        self
    }

    pub(super) fn row(mut self, title: &str, panels: Vec<Panel>) -> Self {
        self.rows.push((title.to_string(), panels));
        self
    }

    /// The matchers `..` stands for in this dashboard's queries.
    fn scope(&self) -> &'static str {
        match self.tenants {
            Tenants::One => r#"job=~"$job", instance=~"$instance", tenant=~"$tenant""#,
            Tenants::None | Tenants::Many => r#"job=~"$job", instance=~"$instance""#,
        }
    }

    /// The JSON Grafana imports.
    pub(super) fn to_json(&self) -> Value {
        let scope = self.scope();
        let mut panels = Vec::new();
        let mut id = 0;
        let mut y = 0;
        for (title, row) in &self.rows {
            id += 1;
            panels.push(json!({
                "type": "row", "title": title, "collapsed": false, "panels": [], "id": id,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }));
            y += 1;
            let (mut x, mut line_height) = (0, 0);
            for panel in row {
                if x + panel.width > 24 {
                    (x, y, line_height) = (0, y + line_height, 0);
                }
                id += 1;
                let mut json = panel.to_json(scope, self.tenants);
                json["id"] = json!(id);
                json["gridPos"] = json!({"h": panel.height, "w": panel.width, "x": x, "y": y});
                panels.push(json);
                x += panel.width;
                line_height = line_height.max(panel.height);
            }
            y += line_height;
        }
        json!({
            "annotations": {"list": []},
            "description": self.description,
            "editable": true,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": null,
            "links": [{
                "asDropdown": true, "icon": "external link", "includeVars": false, "keepTime": true,
                "tags": ["sobot"], "targetBlank": false, "title": "Sobot dashboards", "type": "dashboards",
            }],
            "liveNow": false,
            "panels": panels,
            "refresh": "1m",
            "schemaVersion": 39,
            "tags": self.tags,
            "templating": {"list": self.variables()},
            "time": {"from": self.from, "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        })
    }

    fn variables(&self) -> Vec<Value> {
        let scope = self.scope();
        let mut vars = vec![
            json!({
                "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
                "current": {}, "hide": 0, "includeAll": false, "multi": false, "options": [], "refresh": 1,
                "regex": "", "skipUrlSync": false,
            }),
            query_var(
                "job",
                "Job",
                "Prometheus job of the exporter's targets.",
                "label_values(sobot_exporter_collector_interval_seconds, job)",
                true,
                "",
            ),
            query_var(
                "instance",
                "Instance",
                "Exporter instance: pick one when several exporters share a job.",
                r#"label_values(sobot_exporter_collector_interval_seconds{job=~"$job"}, instance)"#,
                true,
                "",
            ),
        ];
        let by_name = r#"/name="(?<text>[^"]*)".*tenant="(?<value>[^"]*)"/"#;
        match self.tenants {
            Tenants::None => {}
            Tenants::One => {
                let mut var = query_var(
                    "tenant",
                    "Tenant",
                    "(company) first: the company's own series (no tenant label), the default where there are any; then the platform's tenants by name (the value is the companyId). One at a time; the Sobot platform dashboard compares tenants.",
                    &format!("query_result({})", tenant_options()),
                    false,
                    by_name,
                );
                var["current"] = json!({"selected": true, "text": COMPANY, "value": NO_TENANT});
                vars.push(var);
            }
            Tenants::Many => vars.push(query_var(
                "tenant",
                "Tenant",
                "Platform tenants, listed by name; All keeps every panel to $top tenants (topk/bottomk).",
                r#"query_result(max by (tenant, name) (sobot_platform_tenant_info{job=~"$job", instance=~"$instance"}))"#,
                true,
                by_name,
            )),
        }
        if self.window {
            vars.push(custom_var(
                "window",
                "Window",
                "Statistics window collected by the exporter (today so far, or yesterday settled).",
                &["today", "yesterday"],
                "today",
            ));
        }
        if let Some(metric) = self.group {
            vars.push(query_var(
                "group",
                "Group",
                "Skill group (Sobot) or seat group (Laaffic).",
                &format!("label_values({metric}{{{scope}}}, group)"),
                true,
                "",
            ));
        }
        if self.agent {
            vars.push(query_var(
                "agent",
                "Agent",
                "Sobot agent, listed by name (sobot_agent_info); the value is the agent id.",
                &format!("query_result(max by (agent, name) (sobot_agent_info{{{scope}}}))"),
                true,
                r#"/agent="(?<value>[^"]*)".*name="(?<text>[^"]*)"/"#,
            ));
        }
        if self.top {
            vars.push(custom_var(
                "top",
                "Top N",
                "How many agents, seats or tenants the per-agent panels show (topk/bottomk).",
                &["5", "10", "20", "50", "100"],
                "10",
            ));
        }
        vars
    }
}

/// What the [`Tenants::One`] variable lists: one series for the company where a company collector
/// has series (`tenant` set to [`NO_TENANT`], `name` to `(company)`), and each platform tenant
/// with its name.
fn tenant_options() -> String {
    let process = r#"job=~"$job", instance=~"$instance""#;
    format!(
        r#"label_replace(label_replace(max(sobot_exporter_collector_success{{{process}, tenant="", collector!~"platform_.*"}}), "tenant", "{NO_TENANT}", "", ""), "name", "{COMPANY}", "", "") or on(tenant) max by (tenant, name) (sobot_platform_tenant_info{{{process}}})"#
    )
}

/// `metric` of the exporter processes in scope: `job` and `instance`, never `tenant`, for a
/// process's own series such as `sobot_exporter_build_info`, which no tenant has.
pub(super) fn per_process(metric: &str) -> String {
    format!(r#"{metric}{{job=~"$job", instance=~"$instance"}}"#)
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// A variable from a query: multi-select with "All" (every value) when `all`.
fn query_var(name: &str, label: &str, description: &str, query: &str, all: bool, regex: &str) -> Value {
    let mut var = json!({
        "name": name, "label": label, "type": "query", "description": description,
        "datasource": datasource(), "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "hide": 0, "includeAll": all, "multi": all, "options": [], "refresh": 2, "regex": regex,
        "skipUrlSync": false, "sort": 1, "current": {},
    });
    if all {
        var["allValue"] = json!(".*");
        var["current"] = json!({"selected": true, "text": ["All"], "value": ["$__all"]});
    }
    var
}

/// A variable with fixed values, one at a time.
fn custom_var(name: &str, label: &str, description: &str, values: &[&str], current: &str) -> Value {
    let options: Vec<Value> =
        values.iter().map(|v| json!({"selected": *v == current, "text": v, "value": v})).collect();
    json!({
        "name": name, "label": label, "type": "custom", "description": description,
        "query": values.join(","), "current": {"selected": true, "text": current, "value": current},
        "options": options, "hide": 0, "includeAll": false, "multi": false, "skipUrlSync": false,
    })
}

/// Grafana's unit ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// A count.
    Short,
    /// A ratio, 0–1, shown as a percentage with one decimal.
    Percent,
    /// Seconds.
    Seconds,
    /// Days.
    Days,
    /// Per second.
    PerSecond,
}

impl Unit {
    fn id(self) -> &'static str {
        match self {
            Unit::Short => "short",
            Unit::Percent => "percentunit",
            Unit::Seconds => "s",
            Unit::Days => "d",
            Unit::PerSecond => "reqps",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stat,
    Gauge,
    BarGauge,
    TimeSeries,
    Table,
}

/// A table column: one query's value, with its header and unit.
struct Column {
    header: &'static str,
    unit: Unit,
    /// 0 is FAILING (red), 1 is OK (green).
    status: bool,
}

/// A panel.
pub(super) struct Panel {
    kind: Kind,
    title: String,
    description: String,
    width: u32,
    height: u32,
    queries: Vec<(String, String)>,
    unit: Unit,
    min: Option<f64>,
    max: Option<f64>,
    steps: Vec<(&'static str, Option<f64>)>,
    graph: bool,
    show_name: bool,
    legend_table: bool,
    stacked: bool,
    threshold_line: bool,
    columns: Vec<Column>,
    labels: Vec<(&'static str, &'static str)>,
    hide_values: bool,
    step: Option<&'static str>,
    over_last: Option<&'static str>,
}

/// A single value (the last one of the range, with a sparkline).
pub(super) fn stat(title: &str, width: u32, height: u32) -> Panel {
    Panel::new(Kind::Stat, title, width, height)
}

/// A dial with the thresholds' colours.
pub(super) fn gauge(title: &str, width: u32, height: u32) -> Panel {
    Panel::new(Kind::Gauge, title, width, height)
}

/// Horizontal bars, one per series, at the last instant.
pub(super) fn bars(title: &str, width: u32, height: u32) -> Panel {
    Panel::new(Kind::BarGauge, title, width, height)
}

/// Lines over the time range.
pub(super) fn timeseries(title: &str, width: u32, height: u32) -> Panel {
    Panel::new(Kind::TimeSeries, title, width, height)
}

/// A table at the last instant: the labels given by [`Panel::labels`], then one column per
/// [`Panel::column`], the rows joined on their labels.
pub(super) fn table(title: &str, width: u32, height: u32) -> Panel {
    Panel::new(Kind::Table, title, width, height)
}

impl Panel {
    fn new(kind: Kind, title: &str, width: u32, height: u32) -> Self {
        Panel {
            kind,
            title: title.to_string(),
            description: String::new(),
            width,
            height,
            queries: Vec::new(),
            unit: Unit::Short,
            min: None,
            max: None,
            steps: vec![("green", None)],
            graph: true,
            show_name: false,
            legend_table: false,
            stacked: false,
            threshold_line: false,
            columns: Vec::new(),
            labels: Vec::new(),
            hide_values: false,
            step: None,
            over_last: None,
        }
    }

    pub(super) fn describe(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// A query, each series named by `legend` (`{{label}}` for a label's value).
    pub(super) fn query(mut self, expr: &str, legend: &str) -> Self {
        self.queries.push((expr.to_string(), legend.to_string()));
        self
    }

    /// A table column: a query and its header.
    pub(super) fn column(mut self, header: &'static str, unit: Unit, expr: &str) -> Self {
        self.queries.push((expr.to_string(), "__auto".to_string()));
        self.columns.push(Column { header, unit, status: false });
        self
    }

    /// A table column of 0/1 values shown as FAILING (red) and OK (green).
    pub(super) fn status_column(mut self, header: &'static str, expr: &str) -> Self {
        self.queries.push((expr.to_string(), "__auto".to_string()));
        self.columns.push(Column { header, unit: Unit::Short, status: true });
        self
    }

    /// A table's label columns, in order: `(label, header)`.
    pub(super) fn labels(mut self, labels: &[(&'static str, &'static str)]) -> Self {
        self.labels = labels.to_vec();
        self
    }

    /// A table that lists its rows' labels only (the values are a filter's 1s).
    pub(super) fn hide_values(mut self) -> Self {
        self.hide_values = true;
        self
    }

    pub(super) fn unit(mut self, unit: Unit) -> Self {
        self.unit = unit;
        self
    }

    pub(super) fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    pub(super) fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// One colour for every value.
    pub(super) fn color(mut self, color: &'static str) -> Self {
        self.steps = vec![(color, None)];
        self
    }

    /// `base` below the first step, then each step's colour from its value up.
    pub(super) fn steps(mut self, base: &'static str, steps: &[(&'static str, f64)]) -> Self {
        self.steps = std::iter::once((base, None)).chain(steps.iter().map(|(c, v)| (*c, Some(*v)))).collect();
        self
    }

    /// Green, orange from `warn`, red from `alert`: higher is worse.
    pub(super) fn worse_above(self, warn: f64, alert: f64) -> Self {
        self.steps("green", &[("orange", warn), ("red", alert)])
    }

    /// Coloured as its alert fires: green, orange from the limit's `warn`, red from its `alert`.
    pub(super) fn alert_at(self, limit: Limit) -> Self {
        self.worse_above(limit.warn, limit.alert)
    }

    /// Red, orange from `alert`, green from `ok`: lower is worse.
    pub(super) fn worse_below(self, alert: f64, ok: f64) -> Self {
        self.steps("red", &[("orange", alert), ("green", ok)])
    }

    /// A stat without its sparkline.
    pub(super) fn no_graph(mut self) -> Self {
        self.graph = false;
        self
    }

    /// A stat showing the series' name, not its value.
    pub(super) fn show_name(mut self) -> Self {
        self.show_name = true;
        self
    }

    /// A time series' legend as a table on the right with the last value.
    pub(super) fn legend_table(mut self) -> Self {
        self.legend_table = true;
        self
    }

    /// A time series' lines stacked.
    pub(super) fn stacked(mut self) -> Self {
        self.stacked = true;
        self
    }

    /// A time series drawing its thresholds as lines.
    pub(super) fn threshold_line(mut self) -> Self {
        self.threshold_line = true;
        self
    }

    /// Queries stepped at `step` (`1h`, `1d`) at least, aligned by Grafana to the dashboard's time
    /// zone; with `over_last` (`30d`), that range whatever the dashboard's (its relative time).
    pub(super) fn step(mut self, step: &'static str, over_last: Option<&'static str>) -> Self {
        (self.step, self.over_last) = (Some(step), over_last);
        self
    }

    fn to_json(&self, scope: &str, tenants: Tenants) -> Value {
        let instant = matches!(self.kind, Kind::BarGauge | Kind::Table | Kind::Gauge);
        let targets: Vec<Value> = self
            .queries
            .iter()
            .enumerate()
            .map(|(i, (expr, legend))| {
                let mut t = json!({
                    "datasource": datasource(), "editorMode": "code", "expr": scoped(expr, scope),
                    "legendFormat": legend, "range": !instant, "instant": instant, "refId": ref_id(i),
                });
                if self.kind == Kind::Table {
                    t["format"] = json!("table");
                }
                t
            })
            .collect();
        let steps: Vec<Value> = self.steps.iter().map(|(c, v)| json!({"color": c, "value": v})).collect();
        let mut defaults = json!({
            "unit": self.unit.id(),
            "color": {"mode": if matches!(self.kind, Kind::TimeSeries | Kind::Table) { "palette-classic" } else { "thresholds" }},
            "thresholds": {"mode": "absolute", "steps": steps},
            "mappings": [],
        });
        if self.unit == Unit::Percent {
            defaults["decimals"] = json!(1);
        }
        if let Some(min) = self.min {
            defaults["min"] = number(min);
        }
        if let Some(max) = self.max {
            defaults["max"] = number(max);
        }
        let reduce = json!({"calcs": ["lastNotNull"], "fields": "", "values": false});
        let mut overrides = Vec::new();
        let mut transformations = None;
        let options = match self.kind {
            Kind::Stat => json!({
                "reduceOptions": reduce, "colorMode": "value",
                "graphMode": if self.graph { "area" } else { "none" }, "justifyMode": "auto",
                "orientation": "auto", "textMode": if self.show_name { "name" } else { "auto" },
                "wideLayout": true, "showPercentChange": false,
            }),
            Kind::Gauge => json!({
                "reduceOptions": reduce, "orientation": "auto", "showThresholdLabels": false,
                "showThresholdMarkers": true,
            }),
            Kind::BarGauge => json!({
                "reduceOptions": reduce, "orientation": "horizontal", "displayMode": "gradient",
                "valueMode": "color", "namePlacement": "auto", "showUnfilled": true, "sizing": "auto",
                "minVizHeight": 16, "minVizWidth": 8, "maxVizHeight": 300,
            }),
            Kind::TimeSeries => {
                defaults["custom"] = json!({
                    "drawStyle": "line", "lineWidth": 1,
                    "fillOpacity": if self.stacked { 20 } else { 8 }, "gradientMode": "none",
                    "showPoints": if self.step.is_some() { "auto" } else { "never" }, "spanNulls": false, "axisPlacement": "auto", "axisSoftMin": 0,
                    "stacking": {"mode": if self.stacked { "normal" } else { "none" }, "group": "A"},
                    "thresholdsStyle": {"mode": if self.threshold_line { "line" } else { "off" }},
                });
                let legend = if self.legend_table {
                    json!({"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"], "showLegend": true})
                } else {
                    json!({"displayMode": "list", "placement": "bottom", "calcs": [], "showLegend": true})
                };
                json!({"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}})
            }
            Kind::Table => {
                defaults["custom"] =
                    json!({"align": "auto", "cellOptions": {"type": "auto"}, "filterable": true});
                defaults["mappings"] = json!([{"type": "special", "options": {"match": "nan", "result": {"text": "–", "index": 0}}}]);
                let value_name = |i: usize| {
                    if self.queries.len() == 1 {
                        "Value".to_string()
                    } else {
                        format!("Value #{}", ref_id(i))
                    }
                };
                let mut exclude = Map::new();
                for hidden in ["Time", "__name__", "job", "instance", "window"] {
                    exclude.insert(hidden.into(), json!(true));
                }
                if tenants == Tenants::One {
                    exclude.insert("tenant".into(), json!(true));
                }
                let (mut index, mut rename) = (Map::new(), Map::new());
                for (label, header) in &self.labels {
                    index.insert(label.to_string(), json!(index.len()));
                    rename.insert(label.to_string(), json!(header));
                }
                for i in 0..self.queries.len() {
                    if self.hide_values {
                        exclude.insert(value_name(i), json!(true));
                    } else {
                        index.insert(value_name(i), json!(index.len()));
                    }
                }
                for (i, c) in self.columns.iter().enumerate() {
                    let mut properties = vec![
                        json!({"id": "displayName", "value": c.header}),
                        json!({"id": "unit", "value": c.unit.id()}),
                    ];
                    if c.unit == Unit::Percent {
                        properties.push(json!({"id": "decimals", "value": 1}));
                    }
                    if c.status {
                        properties.push(json!({"id": "mappings", "value": [{"type": "value", "options": {
                            "0": {"text": "FAILING", "color": "red", "index": 0},
                            "1": {"text": "OK", "color": "green", "index": 1},
                        }}]}));
                        properties
                            .push(json!({"id": "custom.cellOptions", "value": {"type": "color-background"}}));
                    }
                    overrides.push(json!({"matcher": {"id": "byName", "options": value_name(i)}, "properties": properties}));
                }
                transformations = Some(json!([
                    {"id": "merge", "options": {}},
                    {"id": "organize", "options": {"excludeByName": exclude, "indexByName": index, "renameByName": rename}},
                ]));
                let mut options = json!({
                    "showHeader": true, "cellHeight": "sm",
                    "footer": {"show": false, "reducer": ["sum"], "countRows": false, "fields": ""},
                });
                if let Some(first) = self.columns.first() {
                    options["sortBy"] = json!([{"displayName": first.header, "desc": true}]);
                }
                options
            }
        };
        let mut panel = json!({
            "type": match self.kind {
                Kind::Stat => "stat",
                Kind::Gauge => "gauge",
                Kind::BarGauge => "bargauge",
                Kind::TimeSeries => "timeseries",
                Kind::Table => "table",
            },
            "title": self.title,
            "description": self.description,
            "datasource": datasource(),
            "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides},
            "options": options,
        });
        if let Some(t) = transformations {
            panel["transformations"] = t;
        }
        for (key, value) in [("interval", self.step), ("timeFrom", self.over_last)] {
            if let Some(value) = value {
                panel[key] = json!(value);
            }
        }
        panel
    }
}

/// `A`, `B`, … `Z`, then `AA`: Grafana's query ids.
fn ref_id(i: usize) -> String {
    let letter = |n: usize| char::from(b'A' + (n % 26) as u8);
    if i < 26 { letter(i).to_string() } else { format!("{}{}", letter(i / 26 - 1), letter(i)) }
}

/// `x` as JSON, whole numbers without a decimal point.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 { json!(x as i64) } else { json!(x) }
}

/// `expr` with every selector's `..` replaced by the dashboard's scope.
fn scoped(expr: &str, scope: &str) -> String {
    expr.replace("{..}", &format!("{{{scope}}}")).replace(", ..}", &format!(", {scope}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_goes_into_every_selector_that_asks_for_it() {
        let scope = r#"job=~"$job""#;
        assert_eq!(scoped(r#"a{..} / b{x="1", ..}"#, scope), r#"a{job=~"$job"} / b{x="1", job=~"$job"}"#);
        assert_eq!(scoped("vector(0)", scope), "vector(0)");
    }

    #[test]
    fn panels_flow_left_to_right_and_wrap_at_24_columns() {
        let d = Dashboard::new("u", "t", "d")
            .row("r", vec![stat("a", 12, 4), stat("b", 12, 6), stat("c", 8, 4), timeseries("d", 8, 8)]);
        let json = d.to_json();
        let pos: Vec<(u64, u64)> = json["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["gridPos"]["x"].as_u64().unwrap_or(99), p["gridPos"]["y"].as_u64().unwrap_or(99)))
            .collect();
        assert_eq!(pos, [(0, 0), (0, 1), (12, 1), (0, 7), (8, 7)]);
        let ids: Vec<u64> =
            json["panels"].as_array().into_iter().flatten().filter_map(|p| p["id"].as_u64()).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_stepped_panel_sets_grafanas_minimum_interval_and_relative_time() {
        let json = |p: Panel| p.query("a{..}", "").to_json("s", Tenants::One);
        let (daily, plain) = (json(timeseries("t", 8, 8).step("1d", Some("30d"))), json(stat("t", 8, 8)));
        assert_eq!((daily["interval"].as_str(), daily["timeFrom"].as_str()), (Some("1d"), Some("30d")));
        assert!(plain.get("interval").is_none() && plain.get("timeFrom").is_none());
    }

    #[test]
    fn query_ids_run_past_z() {
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "AA");
        assert_eq!(ref_id(27), "AB");
    }

    #[test]
    fn table_columns_name_grafanas_value_fields() {
        let one = table("t", 24, 8).column("Requests", Unit::Short, "a{..}").to_json("s", Tenants::One);
        assert_eq!(one["fieldConfig"]["overrides"][0]["matcher"]["options"], "Value");
        assert_eq!(one["transformations"][1]["options"]["excludeByName"]["tenant"], true);
        let two = table("t", 24, 8)
            .labels(&[("agent", "Agent")])
            .column("A", Unit::Percent, "a{..}")
            .status_column("B", "b{..}")
            .to_json("s", Tenants::Many);
        assert_eq!(two["fieldConfig"]["overrides"][1]["matcher"]["options"], "Value #B");
        assert_eq!(two["transformations"][1]["options"]["indexByName"]["Value #B"], 2);
        assert_eq!(two["options"]["sortBy"][0]["displayName"], "A");
        assert_eq!(two["targets"][0]["expr"], "a{s}");
    }

    #[test]
    fn one_tenant_at_a_time_lists_the_company_first_and_opens_on_it() {
        let json = Dashboard::new("u", "t", "d").tenants(Tenants::One).to_json();
        let vars = json["templating"]["list"].as_array().cloned().unwrap_or_default();
        let tenant = vars.iter().find(|v| v["name"] == "tenant").cloned().unwrap_or_default();
        assert_eq!(tenant["current"]["value"], NO_TENANT);
        assert_eq!(tenant["current"]["text"], COMPANY);
        assert_eq!((tenant["multi"].as_bool(), tenant["includeAll"].as_bool()), (Some(false), Some(false)));
        let query = tenant["definition"].as_str().unwrap_or("");
        assert!(
            query.contains(r#""tenant", "^$", "", """#) && query.contains(r#""name", "(company)", "", """#),
            "{query}"
        );
        assert!(query.contains(r#"collector!~"platform_.*""#), "{query}");
        assert_eq!(per_process("x"), r#"x{job=~"$job", instance=~"$instance"}"#);
    }
}
